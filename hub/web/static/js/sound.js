// The alarm sound: a two-tone chime made with WebAudio (no audio file), repeated while a
// top-severity alarm is unacknowledged. Browsers allow sound only after a user gesture (the login
// click, or any click or key on the page), so the context is created or resumed on the first one.
// Until then an alarm that should ring is "blocked", and the page says so (body[data-sound]).

let context = null;
let timer = 0;
let ringing = false;
let changed = () => {};

/** Call ``listener`` when the browser starts or stops letting us play sound. */
export function onChange(listener) {
  changed = listener;
}

/** Create or resume the audio context; call from a click or key handler. */
export function unlock() {
  try {
    if (context === null) {
      context = new AudioContext();
      context.onstatechange = () => changed();
    }
    if (context.state === "suspended") context.resume().then(() => changed(), () => {});
  } catch {
    context = null; // no WebAudio: the page still shows the alarm
  }
}

/** Whether the browser lets us play sound now. */
export function unlocked() {
  return context !== null && context.state === "running";
}

function chime() {
  if (!unlocked()) return;
  const start = context.currentTime;
  for (const [offset, frequency] of [[0, 880], [0.28, 660], [0.56, 880]]) {
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.type = "square";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.24);
    osc.connect(gain).connect(context.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.26);
  }
}

/** Ring (every 2 s) or stop; body[data-sound] says which (ringing, blocked by the browser, quiet). */
export function ring(on) {
  document.body.dataset.sound = on ? (unlocked() ? "ringing" : "blocked") : "quiet";
  if (on === ringing) return;
  ringing = on;
  clearInterval(timer);
  if (on) {
    chime();
    timer = setInterval(chime, 2000);
  }
}

// The console's entry: sign-in, routing (#/board, #/devices, #/uptime, #/reports, #/alarm/ID, #/device/S/ID),
// the live stream feeding the store, the alarm sound and keyboard shortcuts.
import { openAction, setupActions } from "./actions.js";
import { api, listAll, login, logout, setUnauthorizedHandler, whoAmI } from "./api.js";
import { moveSelection, renderBoard, selectedAlarm, tick } from "./board.js";
import { renderAlarm } from "./detail.js";
import { renderDevice, renderDevices } from "./devices.js";
import { h, replace, toast, toastFailure } from "./dom.js";
import { applyStatic, currentLang, setLang, t } from "./i18n.js";
import * as sound from "./sound.js";
import { changed, deviceKey, may, store, subscribe } from "./state.js";
import { LiveStream } from "./stream.js";
import { renderUptime } from "./uptime.js";
import { renderDeadLetters } from "./deadletters.js";
import { renderReports } from "./reports.js";
import { renderCompliance } from "./compliance.js";
import { applyForwarding, fetchForwardingSoon } from "./forwarding.js";
import { addPicture } from "./pictures.js";
import { renderPatrol, renderPatrolRun } from "./patrol.js";
import { renderGateways, renderUsers } from "./admin.js";

const view = document.getElementById("view");
let stream = null;
let connState = "connecting";
let loading = false;
let pending = [];
const muted = new Map(); // alarm id -> when its sound comes back (ms), as the hub set it

// ---- data ------------------------------------------------------------------------------------

function applyEvent(type, data) {
  if (type === "alarm") {
    if (!store.alarms.has(data.id)) fetchForwardingSoon(data.id);
    store.alarms.set(data.id, { ...store.alarms.get(data.id), ...data });
  } else if (type === "alarm_image") {
    addPicture(data);
  } else if (type === "forwarding") {
    applyForwarding(data);
  } else if (type === "device") {
    const key = deviceKey(data.school_id, data.id);
    const known = store.devices.get(key);
    if (known) store.devices.set(key, { ...known, availability: data.availability, reason: data.reason, since: data.since });
    else loadDevicesSoon(); // a new device: its kind and location come from the list
  }
}

function onEvent(type, data) {
  if (loading) pending.push([type, data]);
  else {
    applyEvent(type, data);
    changed(["alarm", "alarm_image", "forwarding"].includes(type) ? "alarms" : "devices");
  }
}

let devicesTimer = 0;
function loadDevicesSoon() {
  clearTimeout(devicesTimer);
  devicesTimer = setTimeout(async () => {
    await loadDevices();
    changed("devices");
  }, 1000);
}

async function loadDevices() {
  const devices = await listAll("/devices");
  store.devices = new Map(devices.map((d) => [deviceKey(d.school_id, d.id), d]));
}

/** Reload schools, devices and alarms; stream events arriving meanwhile are applied afterwards. */
async function reload() {
  loading = true;
  pending = [];
  try {
    const [schools, , open, resolved] = await Promise.all([
      api("/schools"),
      loadDevices(),
      listAll("/alarms", { state: "open" }, 5000), // every open alarm, however many (in one request up to 5,000)
      api("/alarms", { params: { state: "resolved", limit: 200 } }),
    ]);
    store.schools = new Map(schools.items.map((s) => [s.id, s]));
    store.alarms = new Map([...resolved.items, ...open].map((a) => [a.id, a]));
  } catch (error) {
    if (error.status !== 401) toastFailure(error);
  } finally {
    loading = false;
    for (const [type, data] of pending) applyEvent(type, data);
    pending = [];
    changed("all");
  }
}

// ---- sound -------------------------------------------------------------------------------------

function ringingAlarms() {
  return [...store.alarms.values()].filter((a) => a.severity === "critical" && a.state === "raised");
}

// The sound button has three states. "locked": the browser blocks sound (a reload keeps the
// session but not the permission), and a click only enables it: it never silences an alarm.
// "on": a click mutes the alarms ringing now. "muted": a click brings their sound back.
function updateSound() {
  const ringing = ringingAlarms();
  const now = Date.now();
  for (const [id, until] of muted) if (until <= now || !ringing.some((a) => a.id === id)) muted.delete(id);
  const audible = ringing.filter((a) => !muted.has(a.id));
  sound.ring(audible.length > 0);
  const button = document.getElementById("sound");
  const state = !sound.unlocked() ? "locked" : ringing.length > 0 && audible.length === 0 ? "muted" : "on";
  const left = Math.max(0, Math.ceil((Math.min(...muted.values()) - now) / 1000));
  const text = state === "muted" ? `${t("sound.muted")} ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` : t(`sound.${state}`);
  if (button.textContent !== text) button.textContent = text;
  button.dataset.state = state;
  showDuty(!sound.unlocked() && store.ready, ringing.length);
}

/** The 开始值班 step: over the page while the browser blocks sound, saying how many alarms wait. */
function showDuty(show, ringing) {
  const duty = document.getElementById("duty");
  if (duty.hidden === !show && duty.dataset.ringing === String(ringing)) return;
  duty.hidden = !show;
  duty.dataset.ringing = String(ringing);
  const line = document.getElementById("duty-ringing");
  line.hidden = ringing === 0;
  line.textContent = t("duty.ringing", { n: ringing });
}

/** Mute the alarms ringing now for the time the hub sets (audited); if all are muted, let them ring again. */
async function toggleMute() {
  const ringing = ringingAlarms();
  if (!ringing.length) return;
  const mute = !ringing.every((a) => muted.has(a.id));
  try {
    const { until } = await api("/alarms/mute", { method: "POST", body: { alarm_ids: ringing.map((a) => a.id), mute } });
    for (const a of ringing) if (mute) muted.set(a.id, new Date(until).getTime());
    else muted.delete(a.id);
  } catch (error) {
    toast(t("error.generic", { m: error.message })); // not muted: the guard hears it still
  }
  updateSound();
}

let pressedWhileLocked = null; // what the sound button showed when it was pressed

// ---- header ------------------------------------------------------------------------------------

function setConn(state) {
  connState = state;
  document.body.dataset.conn = state;
  const el = document.getElementById("conn");
  el.textContent = t(`conn.${state}`);
  el.dataset.state = state;
}

function showWho() {
  const who = document.getElementById("who");
  const me = store.me;
  who.textContent = store.auth === "off" ? t("auth.off") : me ? `${me.display_name || me.username} · ${t(`role.${me.role}`)}` : "";
  document.getElementById("logout").hidden = store.auth === "off" || !me;
  document.getElementById("users-link").hidden = !(store.auth === "off" || me?.permissions?.manage_users);
  const deadTab = document.querySelector('.tabs a[data-view="dead-letters"]');
  deadTab.hidden = !(store.auth === "off" || me?.permissions?.read_dead_letters);
}

function markNav(name) {
  for (const a of document.querySelectorAll(".tabs a")) a.setAttribute("aria-current", a.dataset.view === name ? "page" : "false");
}

// ---- routing -----------------------------------------------------------------------------------

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const [name, a, b] = parts;
  if (name === "devices") return { name: "devices" };
  if (name === "uptime") return { name: "uptime" };
  if (name === "dead-letters") return { name: "dead-letters" };
  if (name === "reports") return { name: "reports" };
  if (name === "compliance") return { name: "compliance", school: a };
  if (name === "patrol" && a === "run" && b) return { name: "patrol-run", id: b };
  if (name === "patrol") return { name: "patrol" };
  if (name === "gateways") return { name: "gateways" };
  if (name === "users") return { name: "users" };
  if (name === "alarm" && a) return { name: "alarm", id: a };
  if (name === "device" && a && b) return { name: "device", school: a, id: b };
  return { name: "board" };
}

function render(what = "all") {
  if (!store.ready) return;
  const r = route();
  markNav({ alarm: "board", device: "devices", gateways: "devices", "patrol-run": "patrol" }[r.name] ?? r.name);
  updateSound();
  if (r.name === "board") renderBoard(view);
  else if (r.name === "devices") renderDevices(view); // alarms too: each device shows its open alarms
  else if (r.name === "uptime" && what === "all") renderUptime(view);
  else if (r.name === "dead-letters" && what === "all") renderDeadLetters(view);
  else if (r.name === "reports" && what === "all") renderReports(view);
  else if (r.name === "compliance" && what === "all") renderCompliance(view, r.school);
  else if (r.name === "patrol" && what === "all") renderPatrol(view);
  else if (r.name === "gateways" && what === "all") renderGateways(view);
  else if (r.name === "users" && what === "all") renderUsers(view);
  else if (r.name === "patrol-run" && what === "all") renderPatrolRun(view, r.id);
  else if (r.name === "alarm" && what === "all") renderAlarm(view, r.id);
  else if (r.name === "device" && what === "all") renderDevice(view, r.school, r.id);
}

// ---- sign-in -----------------------------------------------------------------------------------

function showLogin(message = "") {
  stream?.stop();
  stream = null;
  store.ready = false;
  sound.ring(false);
  replace(view);
  document.body.dataset.signed = "out"; // no views, no live-connection state, no sound button until signed in
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message;
  document.querySelector("#login-form [name=username]").focus();
  store.me = null;
  showWho();
}

async function onLogin(event) {
  event.preventDefault();
  sound.unlock(); // the login click is the gesture browsers ask for before playing sound
  const form = event.target;
  const error = document.getElementById("login-error");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  error.textContent = "";
  try {
    store.me = await login(form.username.value.trim(), form.password.value);
    form.password.value = "";
    document.getElementById("login").hidden = true;
    start();
  } catch (failure) {
    if (failure.status === 401) error.textContent = t("auth.bad");
    else if (failure.status === 429) error.textContent = t("auth.limited", { s: failure.retryAfter ?? 60 });
    else error.textContent = failure.status === 0 ? t("error.network") : t("error.generic", { m: failure.message });
  } finally {
    button.disabled = false;
  }
}

function start() {
  document.body.dataset.signed = "in";
  showWho();
  store.ready = true;
  replace(view, h("p", { class: "muted" }, "…"));
  stream = new LiveStream({
    onEvent,
    onState: setConn,
    onReady: reload,
    onResync: reload,
  });
  stream.start();
}

// ---- keyboard ------------------------------------------------------------------------------------

const KEYS = [
  ["1 2 3 4 5 6", "help.nav"],
  ["↑ ↓ / k j", "help.move"],
  ["a", "help.ack"],
  ["r", "help.resolve"],
  ["Enter", "help.open"],
  ["m", "help.mute"],
  ["l", "help.lang"],
  ["?", "help.help"],
];

function onKey(event) {
  sound.unlock();
  updateSound();
  if (event.target.closest("input, textarea, select, dialog[open]") || event.ctrlKey || event.metaKey || event.altKey) return;
  if (!store.ready) return;
  const onBoard = route().name === "board";
  const key = event.key;
  const go = { 1: "#/board", 2: "#/devices", 3: "#/uptime", 4: "#/compliance", 5: "#/reports", 6: "#/patrol" }[key];
  if (go) location.hash = go;
  else if (key === "?") {
    replace(document.getElementById("help-keys"), KEYS.map(([k, text]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, t(text))]));
    document.getElementById("help-dialog").showModal();
  } else if (key === "l") toggleLang();
  else if (key === "m" && sound.unlocked()) toggleMute();
  else if (onBoard && (key === "ArrowDown" || key === "j")) moveSelection(1);
  else if (onBoard && (key === "ArrowUp" || key === "k")) moveSelection(-1);
  else if (onBoard && (key === "a" || key === "r" || key === "Enter")) {
    const alarm = selectedAlarm();
    if (!alarm) return;
    if (key === "Enter") location.hash = `#/alarm/${encodeURIComponent(alarm.id)}`;
    else if (key === "a" && alarm.state === "raised" && may("acknowledge", alarm)) openAction(alarm, "acknowledge");
    else if (key === "r" && alarm.state !== "resolved" && may("resolve", alarm)) openAction(alarm, "resolve");
    else return;
  } else return;
  event.preventDefault();
}

function toggleLang() {
  setLang(currentLang() === "zh" ? "en" : "zh");
  document.getElementById("lang").textContent = currentLang() === "zh" ? "EN" : "中文";
  document.getElementById("lang").lang = currentLang() === "zh" ? "en" : "zh-CN";
  applyStatic();
  setConn(connState);
  showWho();
  render("all");
}

// ---- boot --------------------------------------------------------------------------------------

async function boot() {
  setLang(currentLang());
  applyStatic();
  document.getElementById("lang").textContent = currentLang() === "zh" ? "EN" : "中文";
  setConn("connecting");
  setupActions();
  subscribe(render);
  window.addEventListener("hashchange", () => render("all"));
  document.addEventListener("keydown", onKey);
  document.addEventListener("pointerdown", () => {
    sound.unlock();
    setTimeout(updateSound, 50);
  });
  document.getElementById("lang").addEventListener("click", toggleLang);
  sound.onChange(updateSound);
  const soundButton = document.getElementById("sound");
  for (const type of ["pointerdown", "keydown"]) {
    // Before the page's own handlers unlock sound: the click must act on what the guard saw.
    soundButton.addEventListener(type, () => (pressedWhileLocked = soundButton.dataset.state === "locked"));
  }
  soundButton.addEventListener("click", () => {
    const wasLocked = pressedWhileLocked ?? soundButton.dataset.state === "locked";
    pressedWhileLocked = null;
    sound.unlock();
    if (wasLocked) updateSound();
    else toggleMute();
  });
  document.getElementById("duty-start").addEventListener("click", () => {
    sound.unlock(); // enables the chime; mutes nothing
    setTimeout(updateSound, 50);
  });
  document.getElementById("login-form").addEventListener("submit", onLogin);
  document.getElementById("logout").addEventListener("click", async () => {
    await logout();
    showLogin();
  });
  setUnauthorizedHandler(() => showLogin());
  setInterval(() => {
    tick();
    if (muted.size) updateSound(); // a mute runs out: the alarm rings again, and the countdown moves
  }, 1000);
  await signIn();
  document.body.dataset.ready = "yes";
}

/** Ask the hub who we are: start, or show the login form; retry while the hub is unreachable. */
async function signIn() {
  let who;
  try {
    who = await whoAmI();
  } catch {
    toast(t("error.network"), "error");
    setTimeout(signIn, 5000);
    return;
  }
  store.auth = who.auth;
  store.me = who.me;
  if (who.auth === "on" && !who.me) showLogin();
  else start();
}

boot();

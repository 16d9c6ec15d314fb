// What the console knows: who is signed in, schools, devices and alarms, kept current by the stream.

export const store = {
  auth: "off", // "on" | "off"
  me: null,
  schools: new Map(), // id -> {id, name}
  devices: new Map(), // "school/device" -> device
  alarms: new Map(), // id -> alarm
  pictures: new Map(), // alarm id -> [{image_id, device_id, taken_at, url}]: what linked cameras saw
};

const listeners = new Set();

/** Call fn(what) after every change; what is "alarms", "devices", "schools" or "all". */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Tell the views something changed. */
export function changed(what) {
  for (const fn of listeners) fn(what);
}

export function deviceKey(schoolId, deviceId) {
  return `${schoolId}/${deviceId}`;
}

/** The device an alarm is about, if known. */
export function deviceOf(alarm) {
  return alarm.device_id ? store.devices.get(deviceKey(alarm.school_id, alarm.device_id)) : undefined;
}

/** A school's display name (its id when the directory has no name). */
export function schoolName(id) {
  return store.schools.get(id)?.name || id;
}

export const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, info: 3 };

// Security alarms, which a person who guards must handle; IT staff handle every other (technical)
// kind. Mirrors hub/auth/roles.py SECURITY_KINDS; the API decides, this only hides useless buttons.
const SECURITY_KINDS = new Set(["panic", "intrusion", "wire_cut", "tamper", "door_forced", "door_held", "unknown"]);

/** Whether the signed-in user may do action ("acknowledge" | "resolve") on the alarm. */
export function may(action, alarm) {
  if (store.auth === "off") return true;
  const me = store.me;
  if (!me?.permissions?.[action]) return false;
  if (me.role === "it_staff") return !SECURITY_KINDS.has(alarm.kind);
  return true;
}

/** Board order: open before resolved, most severe first, then newest first. */
// What a guard must answer first: a panic press, then a break-in (intrusion, forced door, tamper), then
// the perimeter fence's faults, then everything technical (devices offline, video, power).
const PRIORITY = { panic: 0, intrusion: 1, door_forced: 1, tamper: 1, wire_cut: 2, short_circuit: 2, pulse_loss: 2, voltage_low: 2 };

/** An alarm's priority class: 0 panic, 1 break-in, 2 fence, 3 technical. */
export function priority(alarm) {
  return PRIORITY[alarm.kind] ?? 3;
}

const parsed = new Map(); // ISO time -> ms: a board of 2,000 alarms compares times tens of thousands of times

/** An ISO time in ms since the epoch, parsed once. */
export function timeOf(iso) {
  let ms = parsed.get(iso);
  if (ms === undefined) {
    if (parsed.size > 50_000) parsed.clear();
    ms = Date.parse(iso);
    parsed.set(iso, ms);
  }
  return ms;
}

/** Open first; then by priority class, escalated (higher level) first, severity, newest. */
export function alarmOrder(a, b) {
  const open = (x) => (x.state === "resolved" ? 1 : 0);
  const level = (x) => (x.state === "resolved" ? 0 : x.escalation_level || 0);
  return (
    open(a) - open(b) ||
    priority(a) - priority(b) ||
    level(b) - level(a) ||
    (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9) ||
    timeOf(b.raised_at) - timeOf(a.raised_at)
  );
}

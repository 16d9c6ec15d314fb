// Acknowledge and resolve, each with a note, in one dialog.
import { api } from "./api.js";
import { toast } from "./dom.js";
import { kindName, t } from "./i18n.js";
import { changed, deviceOf, schoolName, store } from "./state.js";

/** A one-line summary of an alarm: kind, school, location, device. */
export function summary(alarm) {
  const device = deviceOf(alarm);
  return [kindName(alarm.kind), schoolName(alarm.school_id), device?.location, alarm.device_id]
    .filter(Boolean)
    .join(" · ");
}

/** Whether a latched alarm still waits for its reset at the device. */
export function awaitsReset(alarm) {
  return alarm.latched && !alarm.reset_at;
}

/** Store an alarm the API returned and redraw. */
export function keepAlarm(alarm) {
  store.alarms.set(alarm.id, { ...store.alarms.get(alarm.id), ...alarm });
  changed("alarms");
}

/** Explain an API error about an alarm action in the user's language. */
export function actionError(error, alarm) {
  if (error.status === 403) return t("action.forbidden");
  if (error.status === 404) return t("alarm.notfound");
  if (error.status === 409 && alarm && awaitsReset(alarm)) return t("action.wait_reset");
  if (error.status === 0) return t("error.network");
  return t("error.generic", { m: error.message });
}

/** Open the dialog for action ("acknowledge" | "resolve") on the alarm. */
export function openAction(alarm, action) {
  const dialog = document.getElementById("action-dialog");
  const note = document.getElementById("action-note");
  const error = document.getElementById("action-error");
  const resolve = action === "resolve";
  dialog.dataset.action = action;
  dialog.dataset.alarmId = alarm.id;
  document.getElementById("action-title").textContent = t(resolve ? "action.resolve_title" : "action.ack_title");
  document.getElementById("action-summary").textContent = summary(alarm);
  document.getElementById("action-note-label").textContent = t(resolve ? "action.note_required" : "action.note");
  document.getElementById("action-submit").textContent = t(resolve ? "action.resolve" : "action.acknowledge");
  note.value = "";
  note.required = resolve;
  document.getElementById("action-disposition-row").hidden = !resolve; // what it was: for false-alarm rates
  document.getElementById("action-disposition").value = "real";
  error.textContent = resolve && awaitsReset(alarm) ? t("action.wait_reset") : "";
  dialog.showModal();
  note.focus();
}

async function submit(event) {
  event.preventDefault();
  const dialog = document.getElementById("action-dialog");
  const note = document.getElementById("action-note").value.trim();
  const error = document.getElementById("action-error");
  const button = document.getElementById("action-submit");
  const { action, alarmId } = dialog.dataset;
  if (action === "resolve" && !note) {
    error.textContent = t("action.need_note");
    return;
  }
  button.disabled = true;
  try {
    const body = note ? { note } : {};
    if (action === "resolve") body.disposition = document.getElementById("action-disposition").value;
    const alarm = await api(`/alarms/${encodeURIComponent(alarmId)}/${action}`, { method: "POST", body });
    keepAlarm(alarm);
    dialog.close();
    toast(t(action === "resolve" ? "action.done_resolve" : "action.done_ack"), "ok");
  } catch (failure) {
    error.textContent = actionError(failure, store.alarms.get(alarmId));
  } finally {
    button.disabled = false;
  }
}

/** Wire the dialog's buttons once. */
export function setupActions() {
  document.getElementById("action-form").addEventListener("submit", submit);
  document.getElementById("action-cancel").addEventListener("click", () => {
    document.getElementById("action-dialog").close();
  });
}

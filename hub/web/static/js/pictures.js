// Pictures beside security alarms: what the linked cameras saw when a panic, intrusion or forced-door
// alarm was raised. They arrive on the live stream (alarm_image); for alarms already open when the
// page loaded they are fetched once per alarm.
import { api } from "./api.js";
import { h } from "./dom.js";
import { shortTime } from "./format.js";
import { t } from "./i18n.js";
import { changed, store } from "./state.js";

export const PICTURE_KINDS = new Set(["panic", "intrusion", "door_forced", "patrol_problem"]);

/** Note a picture the stream announced. */
export function addPicture(data) {
  const list = store.pictures.get(data.alarm_id) ?? [];
  if (!list.some((p) => p.image_id === data.image_id)) {
    list.push({ ...data, url: `/api/v1/alarms/${encodeURIComponent(data.alarm_id)}/pictures/${encodeURIComponent(data.image_id)}` });
    list.sort((a, b) => a.image_id.localeCompare(b.image_id));
  }
  store.pictures.set(data.alarm_id, list);
}

/** Fetch an open alarm's pictures once (the stream brings later ones). */
function ensure(alarm) {
  if (store.pictures.has(alarm.id)) return;
  store.pictures.set(alarm.id, []);
  api(`/alarms/${encodeURIComponent(alarm.id)}/pictures`)
    .then((found) => {
      for (const p of found) addPicture({ ...p, alarm_id: alarm.id });
      if (found.length) changed("alarms");
    })
    .catch(() => store.pictures.delete(alarm.id)); // tried again at the next render
}

/** The strip of pictures for an alarm's card or page (null when it has none and can have none). */
export function pictureStrip(alarm, { large = false, fetch = true } = {}) {
  if (!PICTURE_KINDS.has(alarm.kind)) return null;
  if (fetch) ensure(alarm); // a board of thousands asks only for the cards in view
  const list = store.pictures.get(alarm.id) ?? [];
  if (!list.length) return null; // none linked, or none yet: the stream brings them in seconds
  return h(
    "div",
    { class: `pictures${large ? " large" : ""}` },
    ...list.map((p) =>
      h(
        "a",
        { href: p.url, target: "_blank", rel: "noopener", class: "picture", title: `${p.device_id ?? ""} ${p.taken_at ? shortTime(p.taken_at) : ""}`.trim() },
        h("img", { src: p.url, alt: t("pictures.alt", { camera: p.device_id ?? "" }), loading: "lazy", dataset: { camera: p.device_id ?? "" } }),
        h("span", { class: "picture-camera" }, p.device_id ?? ""),
      ),
    ),
  );
}

/**
 * A camera's live view, relayed by the hub: a button that opens a picture refreshed about once a
 * second (the next is asked for when the last has arrived), stopping by itself when the view goes.
 */
export function liveView(schoolId, cameraId, { open = false } = {}) {
  const url = `/api/v1/schools/${encodeURIComponent(schoolId)}/devices/${encodeURIComponent(cameraId)}/live.jpg`;
  const box = h("div", { class: "live-view", dataset: { camera: cameraId } });
  const status = h("span", { class: "live-status muted" });
  let img = null;
  let timer = 0;
  const next = () => {
    clearTimeout(timer);
    if (!img || !img.isConnected) return;
    timer = setTimeout(() => {
      if (img?.isConnected) img.src = `${url}?n=${Date.now()}`;
    }, 1000);
  };
  const button = h("button", { type: "button", class: "ghost live-toggle" }, t("live.open", { camera: cameraId }));
  button.addEventListener("click", () => {
    if (img) {
      img.remove();
      img = null;
      clearTimeout(timer);
      status.textContent = "";
      button.textContent = t("live.open", { camera: cameraId });
      return;
    }
    img = h("img", { class: "live-frame", alt: t("live.alt", { camera: cameraId }), src: `${url}?n=${Date.now()}` });
    img.addEventListener("load", () => {
      status.textContent = t("live.on");
      next();
    });
    img.addEventListener("error", () => {
      status.textContent = t("live.failed");
      next();
    });
    button.textContent = t("live.close");
    box.append(img);
  });
  box.prepend(button, status);
  if (open) button.click(); // a patrol shows each camera at once
  return box;
}


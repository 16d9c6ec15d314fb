// Where an alarm stands with the police alarm centre (and other receivers), on its card:
// 已送达 (delivered, with the time), 发送中 (being sent), 重试中 (a round failed; retrying),
// 未联网 (no receiving account for the school). Kept current by the live stream's forwarding changes;
// a new alarm's first state is fetched once, since its outbox rows are written with it.
import { api } from "./api.js";
import { h } from "./dom.js";
import { shortTime } from "./format.js";
import { t } from "./i18n.js";
import { changed, store } from "./state.js";

/** Apply a live forwarding change to the alarm it is about. */
export function applyForwarding(data) {
  const alarm = store.alarms.get(data.alarm_id);
  if (!alarm) return;
  const rows = [...(alarm.forwarding ?? [])];
  const i = rows.findIndex((r) => r.route === data.route && r.restore === data.restore);
  const row = {
    ...(i >= 0 ? rows[i] : { route: data.route, restore: data.restore }),
    state: data.state,
    delivered_at: data.state === "delivered" ? data.at : rows[i]?.delivered_at ?? null,
    retrying: data.state === "pending" && Boolean(data.error),
  };
  if (i >= 0) rows[i] = row;
  else rows.push(row);
  store.alarms.set(alarm.id, { ...alarm, forwarding: rows });
}

/** A new alarm: read its delivery rows once, shortly after (they are committed with it). */
export function fetchForwardingSoon(alarmId) {
  setTimeout(async () => {
    try {
      const fresh = await api(`/alarms/${encodeURIComponent(alarmId)}`);
      const known = store.alarms.get(alarmId);
      if (!known || !fresh.forwarding?.length) return;
      const merged = new Map(fresh.forwarding.map((r) => [`${r.route}/${r.restore}`, r]));
      for (const r of known.forwarding ?? []) if (r.state === "delivered") merged.set(`${r.route}/${r.restore}`, r);
      store.alarms.set(alarmId, { ...known, forwarding: [...merged.values()] });
      changed("alarms");
    } catch {
      // the card shows nothing about forwarding rather than a guess
    }
  }, 1200);
}

/** The card's line: one entry per route of the alarm's raise (its restore is the detail page's). */
export function forwardingLine(alarm) {
  const rows = (alarm.forwarding ?? []).filter((r) => !r.restore);
  if (!rows.length) return null;
  return h(
    "p",
    { class: "forwarding" },
    ...rows.map((r) => {
      const state = r.state === "delivered" ? "delivered" : r.state === "unroutable" ? "unroutable" : r.retrying || r.rounds > 0 ? "retrying" : "sending";
      const text = t(`forward.${state}`, { route: r.route, t: r.delivered_at ? shortTime(r.delivered_at) : "" });
      return h("span", { class: `fwd fwd-${state}`, dataset: { route: r.route, state }, title: r.delivered_at ?? "" }, text);
    }),
  );
}

// The board as a compact list, for control rooms with hundreds of schools: one row per incident,
// newest and most urgent first as on the cards, and technical alarms acknowledged in bulk.
import { openAction } from "./actions.js";
import { api } from "./api.js";
import { cached } from "./board.js";
import { h, toast } from "./dom.js";
import { ago, dateTime, shortTime } from "./format.js";
import { kindName, t } from "./i18n.js";
import { deviceOf, may, priority, schoolName } from "./state.js";

const chosen = new Set(); // technical alarms ticked for a bulk acknowledgement

function forwarded(alarm) {
  const row = (alarm.forwarding ?? []).find((r) => !r.restore);
  if (!row) return "";
  return row.state === "delivered" ? `✓ ${shortTime(row.delivered_at)}` : row.state === "unroutable" ? t("list.unroutable") : "…";
}

function row([alarm, ...others], rerender) {
  const technical = priority(alarm) === 3;
  const bulk = technical && alarm.state === "raised" && may("acknowledge", alarm);
  const escalated = alarm.state !== "resolved" && alarm.escalation_level > 0;
  return h(
    "tr",
    {
      class: `alarm-row sev-row-${alarm.severity}`,
      dataset: { id: alarm.id, state: alarm.state, priority: priority(alarm), kind: alarm.kind, school: alarm.school_id, escalated: escalated ? "yes" : "no" },
    },
    h(
      "td",
      {},
      bulk
        ? h("input", {
            type: "checkbox",
            class: "pick",
            checked: chosen.has(alarm.id),
            "aria-label": t("list.pick"),
            onchange: (e) => {
              if (e.target.checked) chosen.add(alarm.id);
              else chosen.delete(alarm.id);
              rerender();
            },
          })
        : null,
    ),
    h("td", {}, h("span", { class: `sev sev-${alarm.severity}` }, t(`severity.${alarm.severity}`))),
    h("td", {}, kindName(alarm.kind), others.length ? h("span", { class: "more" }, ` +${others.length}`) : null),
    h("td", {}, schoolName(alarm.school_id)),
    h("td", {}, [deviceOf(alarm)?.location, alarm.device_id].filter(Boolean).join(" · ")),
    h("td", {}, t(`state.${alarm.state}`), escalated ? h("span", { class: "esc" }, ` ⬆${alarm.escalation_level}`) : null),
    h("td", {}, h("time", { datetime: alarm.raised_at, title: dateTime(alarm.raised_at), dataset: { ago: alarm.raised_at } }, ago(alarm.raised_at))),
    h("td", { class: "fwd-cell" }, forwarded(alarm)),
    h(
      "td",
      { class: "row-actions" },
      alarm.state === "raised" && may("acknowledge", alarm)
        ? h("button", { type: "button", class: "primary act-ack", onclick: () => openAction(alarm, "acknowledge") }, t("action.acknowledge"))
        : null,
      h("a", { class: "button ghost act-detail", href: `#/alarm/${encodeURIComponent(alarm.id)}` }, t("action.detail")),
    ),
  );
}

async function acknowledgeChosen(rerender) {
  const ids = [...chosen];
  if (!ids.length) return;
  try {
    const results = await api("/alarms/acknowledge", { method: "POST", body: { alarm_ids: ids, note: t("list.bulk_note") } });
    const done = results.filter((r) => r.status === 200).length;
    for (const r of results) chosen.delete(r.alarm_id);
    toast(t("list.bulk_done", { n: done, failed: results.length - done }), done === results.length ? "info" : "error");
  } catch (error) {
    toast(t("error.generic", { m: error.message }), "error");
  }
  rerender();
}

/** The compact list of incidents, with the bulk acknowledgement bar. */
export function compactList(groups, rerender) {
  const visible = new Set(groups.map(([a]) => a.id));
  for (const id of chosen) if (!visible.has(id)) chosen.delete(id);
  const heads = ["", "severity", "kind", "school", "where", "state", "raised", "forwarded", ""];
  return h(
    "section",
    { class: "board board-list", "aria-live": "polite" },
    h(
      "div",
      { class: "bulk-bar" },
      h(
        "button",
        { type: "button", class: "act-bulk", disabled: chosen.size === 0, onclick: () => acknowledgeChosen(rerender) },
        t("list.bulk", { n: chosen.size }),
      ),
      h("span", { class: "muted" }, t("list.bulk_hint")),
    ),
    h(
      "table",
      { class: "alarm-list" },
      h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", {}, k ? t(`list.col.${k}`) : "")))),
      h("tbody", {}, ...groups.map((g) => cached(g, "row", [chosen.has(g[0].id)], () => row(g, rerender)))),
    ),
  );
}

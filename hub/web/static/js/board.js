// The live alarm board: counts, filters and one card per incident (the open signals of one device
// within ten minutes), in priority order: panic, break-in, fence, technical; escalated first.
import { awaitsReset, openAction } from "./actions.js";
import { h, replace } from "./dom.js";
import { ago, shortTime } from "./format.js";
import { currentLang, kindName, t } from "./i18n.js";
import { compactList } from "./boardlist.js";
import { forwardingLine } from "./forwarding.js";
import { pictureStrip } from "./pictures.js";
import { alarmOrder, deviceOf, may, priority, schoolName, store, timeOf } from "./state.js";

export const filters = { school: "", kind: "", state: "open" };
const MODE_KEY = "campusguard.board";

/** Cards (the default) or the compact list, as this browser last chose. */
function boardMode() {
  return localStorage.getItem(MODE_KEY) === "list" ? "list" : "cards";
}
let selectedId = null;

function matches(alarm) {
  if (filters.school && alarm.school_id !== filters.school) return false;
  if (filters.kind && alarm.kind !== filters.kind) return false;
  if (filters.state === "open") return alarm.state !== "resolved";
  if (filters.state === "all") return true;
  return alarm.state === filters.state;
}

/** The alarms the board shows, in board order. */
export function visibleAlarms() {
  return [...store.alarms.values()].filter(matches).sort(alarmOrder);
}

const WINDOW_MS = 10 * 60e3; // signals of one device this close together are one incident

/**
 * Incidents: the open alarms of one device raised within ten minutes of the one before (a fence cut
 * raises a wire cut, a voltage drop and a pulse loss at once), each led by its most urgent alarm; a
 * resolved alarm, or one of no device, stands alone. In board order of their leads.
 */
export function incidents(alarms) {
  const open = new Map();
  const out = [];
  for (const alarm of [...alarms].sort((a, b) => timeOf(a.raised_at) - timeOf(b.raised_at))) {
    const key = alarm.state !== "resolved" && alarm.device_id ? `${alarm.school_id}\u0000${alarm.device_id}` : null;
    const group = key ? open.get(key) : null;
    if (group && timeOf(alarm.raised_at) - timeOf(group.at(-1).raised_at) <= WINDOW_MS) {
      group.push(alarm);
    } else {
      const fresh = [alarm];
      if (key) open.set(key, fresh);
      out.push(fresh);
    }
  }
  return out.map((group) => group.sort(alarmOrder)).sort((a, b) => alarmOrder(a[0], b[0]));
}

function isToday(iso) {
  return Boolean(iso) && new Date(iso).toDateString() === new Date().toDateString();
}

function counts() {
  const all = [...store.alarms.values()].filter((a) => !filters.school || a.school_id === filters.school);
  return {
    raised: all.filter((a) => a.state === "raised").length,
    acknowledged: all.filter((a) => a.state === "acknowledged").length,
    escalated: all.filter((a) => a.state !== "resolved" && a.escalation_level > 0).length,
    resolved_today: all.filter((a) => a.state === "resolved" && isToday(a.resolved_at)).length,
  };
}

function select(label, name, value, options, onChange) {
  return h(
    "label",
    { class: "filter" },
    h("span", {}, label),
    h(
      "select",
      { name, onchange: (e) => onChange(e.target.value) },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
    ),
  );
}

function toolbar(rerender) {
  const c = counts();
  const kinds = [...new Set([...store.alarms.values()].map((a) => a.kind))].sort();
  const schools = [...store.schools.values()].sort((a, b) => a.id.localeCompare(b.id));
  const set = (key) => (value) => {
    filters[key] = value;
    rerender();
  };
  return h(
    "div",
    { class: "toolbar" },
    h(
      "div",
      { class: "counts", role: "group" },
      ["raised", "acknowledged", "escalated", "resolved_today"].map((key) =>
        h(
          "span",
          { class: `count count-${key}`, dataset: { count: key, value: c[key] } },
          h("b", {}, c[key]),
          " ",
          t(`count.${key}`),
        ),
      ),
    ),
    h(
      "div",
      { class: "filters" },
      select(t("filter.school"), "school", filters.school, [
        ["", t("filter.all")],
        ...schools.map((s) => [s.id, s.name || s.id]),
      ], set("school")),
      select(t("filter.kind"), "kind", filters.kind, [["", t("filter.all")], ...kinds.map((k) => [k, kindName(k)])], set("kind")),
      select(
        t("filter.state"),
        "state",
        filters.state,
        ["open", "raised", "acknowledged", "resolved", "all"].map((s) => [s, t(`state.${s}`)]),
        set("state"),
      ),
      h(
        "button",
        {
          type: "button",
          class: "ghost board-mode",
          dataset: { mode: boardMode() },
          onclick: () => {
            localStorage.setItem(MODE_KEY, boardMode() === "list" ? "cards" : "list");
            rerender();
          },
        },
        t(boardMode() === "list" ? "list.to_cards" : "list.to_list"),
      ),
    ),
  );
}

function conditionLine(alarm) {
  if (alarm.state === "resolved") {
    return h("p", { class: "cond" }, `${t("state.resolved")} · ${alarm.resolved_by_name || alarm.resolved_by || ""} · ${shortTime(alarm.resolved_at)}`);
  }
  let text;
  let cls = "cond";
  if (awaitsReset(alarm)) {
    text = t("alarm.latched_wait");
    cls += " wait";
  } else if (alarm.latched) text = t("alarm.reset_done");
  else if (alarm.condition === "cleared") text = t("alarm.cleared");
  else text = t("alarm.active");
  return h("p", { class: cls }, text);
}

function signals(others) {
  return h(
    "ul",
    { class: "signals" },
    others.map((a) =>
      h(
        "li",
        { dataset: { id: a.id, kind: a.kind } },
        h("a", { href: `#/alarm/${encodeURIComponent(a.id)}` }, kindName(a.kind)),
        a.zone !== null && a.zone !== undefined ? ` · ${t("alarm.zone", { n: a.zone })}` : "",
        ` · ${t(`state.${a.state}`)} · `,
        h("time", { datetime: a.raised_at, title: shortTime(a.raised_at) }, shortTime(a.raised_at)),
      ),
    ),
  );
}

const PICTURED_CARDS = 30; // the cards in view: their earlier pictures are fetched; later ones come live

function card([alarm, ...others], index = 0) {
  const device = deviceOf(alarm);
  const escalated = alarm.state !== "resolved" && alarm.escalation_level > 0;
  // One pulsing frame only where a person must act now: an unacknowledged panic or break-in, or an
  // unacknowledged alarm that has escalated.
  const urgent = alarm.state === "raised" && (priority(alarm) <= 1 || escalated);
  const where = [schoolName(alarm.school_id), device?.location, alarm.device_id ?? alarm.gateway_id].filter(Boolean);
  const canAck = alarm.state === "raised" && may("acknowledge", alarm);
  const canResolve = alarm.state !== "resolved" && may("resolve", alarm);
  return h(
    "article",
    {
      class: "alarm-card",
      tabindex: 0,
      "aria-selected": alarm.id === selectedId ? "true" : "false",
      dataset: {
        id: alarm.id,
        severity: alarm.severity,
        state: alarm.state,
        escalated: escalated ? "yes" : "no",
        urgent: urgent ? "yes" : "no",
        priority: priority(alarm),
        signals: others.length + 1,
        school: alarm.school_id,
        kind: alarm.kind,
      },
      onfocus: () => {
        selectedId = alarm.id;
      },
      ondblclick: () => {
        location.hash = `#/alarm/${encodeURIComponent(alarm.id)}`;
      },
    },
    h(
      "div",
      { class: "card-head" },
      h("span", { class: `sev sev-${alarm.severity}` }, t(`severity.${alarm.severity}`)),
      escalated ? h("span", { class: "esc" }, `⬆ ${t("alarm.escalated", { n: alarm.escalation_level })}`) : null,
      h("span", { class: `state state-${alarm.state}` }, t(`state.${alarm.state}`)),
      others.length ? h("span", { class: "more" }, t("incident.more", { n: others.length })) : null,
      h("time", { class: "ago", datetime: alarm.raised_at, title: shortTime(alarm.raised_at), dataset: { ago: alarm.raised_at } }, ago(alarm.raised_at)),
    ),
    h(
      "h3",
      { class: "kind" },
      kindName(alarm.kind),
      alarm.zone !== null && alarm.zone !== undefined ? h("span", { class: "zone" }, ` · ${t("alarm.zone", { n: alarm.zone })}`) : null,
    ),
    h("p", { class: "where" }, where.join(" · ")),
    conditionLine(alarm),
    forwardingLine(alarm),
    pictureStrip(alarm, { fetch: index < PICTURED_CARDS }),
    others.length ? signals(others) : null,
    alarm.acknowledged_by && alarm.state === "acknowledged"
      ? h(
          "p",
          { class: "ack" },
          t("alarm.ack_by", { who: alarm.acknowledged_by_name || alarm.acknowledged_by }),
          alarm.acknowledge_note ? `：${alarm.acknowledge_note}` : "",
        )
      : null,
    h(
      "div",
      { class: "actions" },
      canAck
        ? h("button", { type: "button", class: "primary act-ack", onclick: () => openAction(alarm, "acknowledge") }, t("action.acknowledge"))
        : null,
      canResolve
        ? h(
            "button",
            {
              type: "button",
              class: `act-resolve${alarm.state === "acknowledged" && !awaitsReset(alarm) ? " primary" : ""}`,
              onclick: () => openAction(alarm, "resolve"),
              title: awaitsReset(alarm) ? t("action.wait_reset") : null,
            },
            t("action.resolve"),
          )
        : null,
      h("a", { class: "button ghost act-detail", href: `#/alarm/${encodeURIComponent(alarm.id)}` }, t("action.detail")),
    ),
  );
}

const PAGE = 200; // incidents drawn at once, most urgent first; the counts above are of all of them
let shown = PAGE;
// Cards and rows by incident lead: rebuilt only when what they show changed (a live change redraws
// one card, not 2,000). Alarms are replaced, never mutated, in the store, so identity is enough.
const drawn = new Map();

function sameKey(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The incident's card or row, reused when nothing it shows has changed. */
export function cached(group, mode, extra, build) {
  const [alarm] = group;
  const key = [mode, currentLang(), store.me, store.schools, deviceOf(alarm)?.location, store.pictures.get(alarm.id)?.length, ...extra, ...group];
  const hit = drawn.get(alarm.id);
  if (hit && sameKey(hit.key, key)) return hit.node;
  const node = build();
  drawn.set(alarm.id, { key, node });
  return node;
}

function more(total, rerender) {
  if (total <= shown) return null;
  const next = () => {
    shown += PAGE * 5;
    rerender();
  };
  return h("button", { type: "button", class: "ghost show-more", onclick: next }, t("board.more", { shown, total }));
}

/** Draw the board into the view. */
export function renderBoard(view) {
  const rerender = () => renderBoard(view);
  const alarms = visibleAlarms();
  const hadFocus = document.activeElement?.closest?.(".alarm-card")?.dataset.id;
  const empty = h("p", { class: "empty" }, filters.state === "open" && !filters.school && !filters.kind ? t("alarm.none") : t("alarm.none_filtered"));
  const groups = alarms.length ? incidents(alarms) : [];
  const page = groups.slice(0, shown);
  const list = !groups.length
    ? h("section", { class: "board" }, empty)
    : boardMode() === "list"
      ? compactList(page, rerender)
      : h(
          "section",
          { class: "board", "aria-live": "polite" },
          page.map((g, i) => cached(g, "card", [g[0].id === selectedId, i < PICTURED_CARDS], () => card(g, i))),
        );
  replace(view, toolbar(rerender), list, more(groups.length, rerender));
  const live = new Set(page.map(([a]) => a.id));
  for (const id of drawn.keys()) if (!live.has(id)) drawn.delete(id);
  if (hadFocus) view.querySelector(`.alarm-card[data-id="${CSS.escape(hadFocus)}"]`)?.focus();
}

/** The alarm the keyboard works on: the focused card, else the first. */
export function selectedAlarm() {
  const id = document.activeElement?.closest?.(".alarm-card")?.dataset.id ?? selectedId;
  return store.alarms.get(id) ?? visibleAlarms()[0];
}

/** Move the keyboard selection by delta cards. */
export function moveSelection(delta) {
  const cards = [...document.querySelectorAll(".alarm-card")];
  if (!cards.length) return;
  const index = cards.findIndex((c) => c.dataset.id === selectedAlarm()?.id);
  const next = cards[Math.min(cards.length - 1, Math.max(0, index + delta))];
  next.focus();
  next.scrollIntoView({ block: "nearest" });
}

/** Refresh every "3 minutes ago" on the page. */
export function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-ago]")) el.textContent = ago(el.dataset.ago, now);
}

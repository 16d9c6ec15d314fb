// One alarm: what, where, which device, its history, the camera snapshot, and the next action.
import { addPicture, liveView, PICTURE_KINDS, pictureStrip } from "./pictures.js";
import { actionError, awaitsReset, keepAlarm, openAction } from "./actions.js";
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { ago, dateTime } from "./format.js";
import { kindName, t, tOr } from "./i18n.js";
import { deviceKey, may, schoolName, store } from "./state.js";

function field(label, ...value) {
  return [h("dt", {}, label), h("dd", {}, ...value)];
}

/** Who did it: their name, with the login in brackets (the audit log and the API speak logins). */
function person(name, login) {
  return name && login && name !== login ? `${name}（${login}）` : login || name || "";
}

/** The alarm's own timeline, oldest first. */
function timeline(alarm) {
  const steps = [
    ["raised", alarm.raised_at, null],
    ["cleared", alarm.cleared_at, null],
    ["reset", alarm.reset_at, null],
    ["escalated", alarm.escalated_at, alarm.escalation_level ? t("alarm.escalated", { n: alarm.escalation_level }) : null],
    ["acknowledged", alarm.acknowledged_at, [person(alarm.acknowledged_by_name, alarm.acknowledged_by), alarm.acknowledge_note].filter(Boolean).join("：")],
    ["resolved", alarm.resolved_at, [person(alarm.resolved_by_name, alarm.resolved_by), alarm.resolve_note].filter(Boolean).join("：")],
  ].filter(([, at]) => at);
  steps.sort((a, b) => new Date(a[1]) - new Date(b[1]));
  return h(
    "ol",
    { class: "timeline" },
    steps.map(([what, at, note]) =>
      h("li", { dataset: { step: what } }, h("time", { datetime: at }, dateTime(at)), h("b", {}, t(`history.${what}`)), note ? h("span", {}, note) : null),
    ),
  );
}

/** The response plan (处置预案): the steps in order and whom to call, with where the plan comes from. */
function planPanel(plan) {
  if (!plan) return null;
  const source = plan.scope === "default" ? t("plan.default") : plan.scope === "*" ? t("plan.hub") : plan.scope;
  return h(
    "section",
    { class: "panel plan", dataset: { scope: plan.scope } },
    h("h2", {}, t("plan.title"), h("small", { class: "muted" }, ` · ${source}`)),
    h("ol", { class: "plan-steps" }, ...plan.steps.map((step) => h("li", {}, step))),
    plan.contacts.length
      ? h(
          "ul",
          { class: "plan-contacts" },
          ...plan.contacts.map((c) => h("li", {}, h("a", { href: `tel:${c.phone.replace(/[ -]/g, "")}`, class: "button ghost" }, `☎ ${c.name} ${c.phone}`), c.role ? h("span", { class: "muted" }, ` ${c.role}`) : null)),
        )
      : null,
  );
}

function snapshot(alarm) {
  if (!alarm.image_id) return null;
  const img = h("img", {
    class: "snapshot",
    alt: t("detail.snapshot"),
    src: `/api/v1/alarms/${encodeURIComponent(alarm.id)}/snapshot`,
    loading: "lazy",
  });
  const missing = h("p", { class: "muted", hidden: true }, t("detail.snapshot_missing"));
  img.addEventListener("error", () => {
    img.hidden = true;
    missing.hidden = false;
  });
  return h("section", { class: "panel" }, h("h2", {}, t("detail.snapshot")), img, missing);
}

function deviceHistory(items) {
  return h(
    "ol",
    { class: "timeline" },
    items.map((tr) =>
      h(
        "li",
        {},
        h("time", { datetime: tr.at }, dateTime(tr.at)),
        h("span", { class: `avail avail-${tr.availability}` }, t(`avail.${tr.availability}`)),
        tr.reason ? h("span", {}, tOr(`reason.${tr.reason}`, tr.reason)) : null,
      ),
    ),
  );
}

/** Draw the alarm's page; fetches the alarm and its device's history. */
export async function renderAlarm(view, alarmId) {
  replace(view, h("p", { class: "muted" }, "…"));
  let alarm;
  try {
    alarm = await api(`/alarms/${encodeURIComponent(alarmId)}`);
  } catch (error) {
    replace(view, h("section", { class: "panel notfound" }, h("p", {}, actionError(error)), h("a", { class: "button", href: "#/board" }, t("action.back"))));
    return;
  }
  keepAlarm(alarm);
  const device = alarm.device_id ? store.devices.get(deviceKey(alarm.school_id, alarm.device_id)) : undefined;
  const base = alarm.device_id ? `/schools/${encodeURIComponent(alarm.school_id)}/devices/${encodeURIComponent(alarm.device_id)}` : null;
  const [history, related, notices, pictures, plan] = await Promise.all([
    base ? api(`${base}/history`, { params: { limit: 20 } }).catch(() => ({ items: [] })) : { items: [] },
    alarm.device_id
      ? api("/alarms", { params: { device_id: alarm.device_id, school_id: alarm.school_id, limit: 10 } }).catch(() => ({ items: [] }))
      : { items: [] },
    api(`/alarms/${encodeURIComponent(alarm.id)}/notifications`).catch(() => []),
    PICTURE_KINDS.has(alarm.kind) ? api(`/alarms/${encodeURIComponent(alarm.id)}/pictures`).catch(() => []) : [],
    api(`/alarms/${encodeURIComponent(alarm.id)}/plan`).catch(() => null),
  ]);
  for (const p of pictures) addPicture({ ...p, alarm_id: alarm.id });
  const canAck = alarm.state === "raised" && may("acknowledge", alarm);
  const canResolve = alarm.state !== "resolved" && may("resolve", alarm);
  const escalated = alarm.state !== "resolved" && alarm.escalation_level > 0;
  replace(
    view,
    h(
      "article",
      {
        class: "alarm-detail",
        dataset: { id: alarm.id, severity: alarm.severity, state: alarm.state, escalated: escalated ? "yes" : "no" },
      },
      h(
        "header",
        { class: "detail-head" },
        h("a", { class: "button ghost", href: "#/board" }, `← ${t("action.back")}`),
        h("span", { class: `sev sev-${alarm.severity}` }, t(`severity.${alarm.severity}`)),
        escalated ? h("span", { class: "esc" }, `⬆ ${t("alarm.escalated", { n: alarm.escalation_level })}`) : null,
        h("span", { class: `state state-${alarm.state}` }, t(`state.${alarm.state}`)),
        h("h1", {}, kindName(alarm.kind), alarm.zone !== null ? ` · ${t("alarm.zone", { n: alarm.zone })}` : ""),
      ),
      h(
        "div",
        { class: "actions big" },
        canAck ? h("button", { class: "primary act-ack", onclick: () => openAction(alarm, "acknowledge") }, t("action.acknowledge")) : null,
        canResolve ? h("button", { class: "act-resolve", onclick: () => openAction(alarm, "resolve") }, t("action.resolve")) : null,
        alarm.state !== "resolved" && awaitsReset(alarm) ? h("span", { class: "cond wait" }, t("alarm.latched_wait")) : null,
      ),
      h(
        "div",
        { class: "detail-grid" },
        h(
          "section",
          { class: "panel" },
          h(
            "dl",
            { class: "facts" },
            field(t("detail.school"), schoolName(alarm.school_id)),
            field(t("detail.location"), device?.location || "–"),
            field(
              t("detail.device"),
              alarm.device_id
                ? h("a", { href: `#/device/${encodeURIComponent(alarm.school_id)}/${encodeURIComponent(alarm.device_id)}` }, alarm.device_id)
                : "–",
              device ? h("span", { class: "muted" }, ` ${tOr(`devkind.${device.kind}`, device.kind)} · ${device.vendor} ${device.model}`) : null,
            ),
            field(t("detail.gateway"), alarm.gateway_id),
            field(t("detail.severity"), t(`severity.${alarm.severity}`)),
            field(t("detail.state"), t(`state.${alarm.state}`), " · ", h("span", { dataset: { ago: alarm.raised_at } }, ago(alarm.raised_at))),
            field(
              t("detail.condition"),
              awaitsReset(alarm) ? t("alarm.latched_wait") : alarm.latched ? t("alarm.reset_done") : t(alarm.condition === "active" ? "alarm.active" : "alarm.cleared"),
            ),
            alarm.disposition ? field(t("action.disposition"), t(`disposition.${alarm.disposition}`)) : null,
            alarm.value !== null && alarm.value !== undefined ? field(t("detail.value"), String(alarm.value)) : null,
            alarm.forwarding?.length
              ? field(t("detail.forwarding"), alarm.forwarding.map((d) => h("div", {}, `${d.route ?? ""} ${d.state ?? ""}`.trim())))
              : null,
            notices.length
              ? field(
                  t("detail.notifications"),
                  notices.map((n) =>
                    h(
                      "div",
                      { class: `notice notice-${n.state}`, title: n.detail ?? "" },
                      `${n.channel} · ${t("detail.notice_level", { n: n.level })} · ${tOr(`notice.${n.state}`, n.state)} · ${dateTime(n.done_at ?? n.created_at)}`,
                    ),
                  ),
                )
              : null,
          ),
          h("h2", {}, t("detail.history")),
          timeline(alarm),
        ),
        planPanel(plan),
        snapshot(alarm),
        PICTURE_KINDS.has(alarm.kind)
          ? h(
              "section",
              { class: "panel alarm-pictures" },
              h("h2", {}, t("pictures.title")),
              pictureStrip(alarm, { large: true }),
              ...[...new Set((store.pictures.get(alarm.id) ?? []).map((p) => p.device_id).filter(Boolean))].map((cam) => liveView(alarm.school_id, cam)),
              h("p", { class: "muted nvr-time" }, t("pictures.nvr", { t: dateTime(alarm.raised_at) })),
            )
          : null,
        device
          ? h("section", { class: "panel" }, h("h2", {}, t("detail.device_history")), deviceHistory(history.items))
          : null,
        related.items.length > 1
          ? h(
              "section",
              { class: "panel" },
              h("h2", {}, t("detail.device_alarms")),
              h(
                "ul",
                { class: "related" },
                related.items.map((a) =>
                  h(
                    "li",
                    {},
                    h("a", { href: `#/alarm/${encodeURIComponent(a.id)}` }, `${dateTime(a.raised_at)} · ${kindName(a.kind)} · ${t(`state.${a.state}`)}`),
                  ),
                ),
              ),
            )
          : null,
      ),
    ),
  );
}

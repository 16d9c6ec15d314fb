// For IT staff: devices per school with availability, reason and since; one device's history.
import { liveView } from "./pictures.js";
import { api } from "./api.js";
import { columnChart, lineChart } from "./chart.js";
import { h, replace } from "./dom.js";
import { ago, dateTime, percent, shortTime } from "./format.js";
import { kindName, t, tOr } from "./i18n.js";
import { deviceKey, schoolName, store } from "./state.js";

export const deviceFilters = { school: "", kind: "", availability: "" };
const AVAILABILITY_ORDER = { offline: 0, degraded: 1, unknown: 2, online: 3 };

function select(label, value, options, onChange) {
  return h(
    "label",
    { class: "filter" },
    h("span", {}, label),
    h("select", { onchange: (e) => onChange(e.target.value) }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))),
  );
}

function availability(device) {
  return h("span", { class: `avail avail-${device.availability}` }, t(`avail.${device.availability}`));
}

function sinceText(device) {
  return device.availability === "offline" ? t("devices.offline_since", { t: shortTime(device.since) }) : t("devices.since", { t: shortTime(device.since) });
}

function alarmCount(device, n) {
  if (!n) return "0";
  const href = `#/device/${encodeURIComponent(device.school_id)}/${encodeURIComponent(device.id)}`;
  return h("a", { class: "alarm-count", href, title: t("devices.open_alarms", { n }) }, String(n));
}

/** Open alarms per device ("school/device"), from the live store: a device that answers can still be in alarm. */
function openAlarms() {
  const out = new Map();
  for (const a of store.alarms.values()) {
    if (a.state === "resolved" || !a.device_id) continue;
    const key = deviceKey(a.school_id, a.device_id);
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

function schoolTable(schoolId, devices, open) {
  const up = devices.filter((d) => d.availability === "online" || d.availability === "degraded").length;
  const counts = ["online", "degraded", "offline", "unknown"].map((a) => [a, devices.filter((d) => d.availability === a).length]);
  return h(
    "section",
    { class: "panel school", dataset: { school: schoolId } },
    h(
      "header",
      { class: "school-head" },
      h("h2", {}, schoolName(schoolId)),
      h("span", { class: "rate" }, `${t("devices.rate")} ${percent(devices.length ? up / devices.length : null)}`),
      counts.filter(([, n]) => n).map(([a, n]) => h("span", { class: `avail avail-${a}` }, `${t(`avail.${a}`)} ${n}`)),
    ),
    h(
      "table",
      { class: "devices" },
      h(
        "thead",
        {},
        h("tr", {}, ["device", "kind", "location", "state", "reason", "since", "seen", "alarms"].map((c) => h("th", {}, t(`devices.col.${c}`)))),
      ),
      h(
        "tbody",
        {},
        devices.map((d) =>
          h(
            "tr",
            { dataset: { device: d.id, availability: d.availability, alarms: open.get(deviceKey(d.school_id, d.id)) ? "yes" : "no" } },
            h(
              "td",
              {},
              h("a", { href: `#/device/${encodeURIComponent(d.school_id)}/${encodeURIComponent(d.id)}` }, d.id),
              h("div", { class: "muted small" }, [d.gateway_id, d.address, d.firmware].filter(Boolean).join(" · ")),
            ),
            h("td", {}, tOr(`devkind.${d.kind}`, d.kind)),
            h("td", {}, d.location || "–"),
            h("td", {}, availability(d), d.fault ? h("span", { class: "fault", dataset: { fault: d.fault } }, ` · ${tOr(`fault.${d.fault}`, d.fault)}`) : null),
            h("td", {}, d.reason ? tOr(`reason.${d.reason}`, d.reason) : ""),
            h("td", { title: dateTime(d.since) }, sinceText(d), " ", h("small", { class: "muted", dataset: { ago: d.since } }, ago(d.since))),
            h("td", { title: dateTime(d.last_seen) }, d.last_seen ? h("small", { dataset: { ago: d.last_seen } }, ago(d.last_seen)) : "–"),
            h("td", { class: "num" }, alarmCount(d, open.get(deviceKey(d.school_id, d.id)) ?? 0)),
          ),
        ),
      ),
    ),
  );
}

/** Draw the device list, grouped by school, worst first within each. */
export function renderDevices(view) {
  const rerender = () => renderDevices(view);
  const set = (key) => (value) => {
    deviceFilters[key] = value;
    rerender();
  };
  const all = [...store.devices.values()];
  const kinds = [...new Set(all.map((d) => d.kind))].sort();
  const shown = all
    .filter((d) => !deviceFilters.school || d.school_id === deviceFilters.school)
    .filter((d) => !deviceFilters.kind || d.kind === deviceFilters.kind)
    .filter((d) => !deviceFilters.availability || d.availability === deviceFilters.availability)
    .sort((a, b) => (AVAILABILITY_ORDER[a.availability] ?? 9) - (AVAILABILITY_ORDER[b.availability] ?? 9) || a.id.localeCompare(b.id));
  const open = openAlarms();
  const bySchool = new Map();
  for (const d of shown) bySchool.set(d.school_id, [...(bySchool.get(d.school_id) ?? []), d]);
  const schools = [...new Set(all.map((d) => d.school_id))].sort();
  replace(
    view,
    h(
      "div",
      { class: "toolbar" },
      h("h1", {}, t("devices.title"), " ", h("a", { class: "button ghost", href: "#/gateways" }, t("gateways.title"))),
      h(
        "div",
        { class: "filters" },
        select(t("filter.school"), deviceFilters.school, [["", t("filter.all")], ...schools.map((s) => [s, schoolName(s)])], set("school")),
        select(t("filter.kind"), deviceFilters.kind, [["", t("filter.all")], ...kinds.map((k) => [k, tOr(`devkind.${k}`, k)])], set("kind")),
        select(
          t("filter.availability"),
          deviceFilters.availability,
          [["", t("filter.all")], ...["offline", "degraded", "online", "unknown"].map((a) => [a, t(`avail.${a}`)])],
          set("availability"),
        ),
      ),
    ),
    bySchool.size ? [...bySchool.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([s, ds]) => schoolTable(s, ds, open)) : h("p", { class: "empty" }, t("devices.none")),
  );
}

/** Draw one device: facts, 30-day uptime per day, state history and its alarms. */
const CHARTED = 4; // numeric metrics drawn on a device's page, at most

/**
 * The last 24 h of a device's numeric metrics from the hub's embedded time series; nothing when the
 * hub keeps none (409: it writes to InfluxDB, where Grafana shows them).
 */
function metricCharts(base, metrics) {
  const fields = Object.entries(metrics ?? {})
    .filter(([, v]) => typeof v === "number")
    .map(([k]) => k)
    .slice(0, CHARTED);
  const box = h("div", { class: "metric-charts" });
  if (!fields.length) return box;
  Promise.all(fields.map((field) => api(`${base}/series`, { params: { field } }).catch(() => null))).then((all) => {
    const drawn = all
      .map((series, i) => [fields[i], series])
      .filter(([, series]) => series?.points?.length > 1)
      .map(([field, series]) =>
        h(
          "figure",
          { dataset: { field } },
          h("figcaption", {}, `${field} · ${t(`series.${series.resolution}`)}`),
          lineChart(series.points.map((p) => ({ ...p, at: Date.parse(p.at) })), { label: field }),
        ),
      );
    if (drawn.length) box.append(h("h2", {}, t("series.title")), ...drawn);
  });
  return box;
}

export async function renderDevice(view, schoolId, deviceId) {
  replace(view, h("p", { class: "muted" }, "…"));
  const base = `/schools/${encodeURIComponent(schoolId)}/devices/${encodeURIComponent(deviceId)}`;
  const start = new Date(Date.now() - 30 * 86400e3).toISOString();
  let device;
  let history;
  let uptime;
  let alarms;
  try {
    [device, history, uptime, alarms] = await Promise.all([
      api(base),
      api(`${base}/history`, { params: { limit: 200 } }),
      api(`${base}/uptime`, { params: { start } }),
      api("/alarms", { params: { school_id: schoolId, device_id: deviceId, limit: 20 } }),
    ]);
  } catch (error) {
    replace(view, h("section", { class: "panel notfound" }, h("p", {}, error.status === 404 ? t("alarm.notfound") : t("error.generic", { m: error.message })), h("a", { class: "button", href: "#/devices" }, t("action.back"))));
    return;
  }
  store.devices.set(deviceKey(schoolId, deviceId), device);
  replace(
    view,
    h(
      "article",
      { class: "device-detail", dataset: { device: deviceId } },
      h(
        "header",
        { class: "detail-head" },
        h("a", { class: "button ghost", href: "#/devices" }, `← ${t("action.back")}`),
        availability(device),
        h("h1", {}, `${device.id} · ${tOr(`devkind.${device.kind}`, device.kind)}`),
      ),
      device.kind === "camera" ? h("section", { class: "panel" }, liveView(device.school_id, device.id)) : null,
      h(
        "div",
        { class: "detail-grid" },
        h(
          "section",
          { class: "panel" },
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, t("detail.school")),
            h("dd", {}, schoolName(device.school_id)),
            h("dt", {}, t("detail.location")),
            h("dd", {}, device.location || "–"),
            h("dt", {}, t("detail.model")),
            h("dd", {}, `${device.vendor} ${device.model} (${device.profile})`),
            h("dt", {}, t("detail.gateway")),
            h("dd", {}, device.gateway_id),
            h("dt", {}, t("detail.state")),
            h("dd", {}, availability(device), device.reason ? ` · ${tOr(`reason.${device.reason}`, device.reason)}` : "", ` · ${sinceText(device)}`),
            h("dt", {}, t("devices.rate")),
            h("dd", { class: "uptime-total" }, `${percent(uptime.uptime)} (${t("uptime.range.30")})`),
            h("dt", {}, t("uptime.intact")),
            h("dd", { class: "intact-total" }, `${percent(uptime.intact)} (${t("uptime.range.30")})`),
            device.metrics ? h("dt", {}, t("detail.metrics")) : null,
            device.metrics
              ? h(
                  "dd",
                  { class: "metrics" },
                  Object.entries(device.metrics)
                    .map(([k, v]) => `${k}: ${v === null ? "–" : v}`)
                    .join(" · "),
                )
              : null,
          ),
          metricCharts(base, device.metrics),
          h("h2", {}, t("devices.uptime30")),
          columnChart(
            uptime.days.map((d) => ({ label: d.day.slice(5), title: d.day, value: d.uptime })),
            { label: t("devices.uptime30") },
          ),
        ),
        h(
          "section",
          { class: "panel" },
          h("h2", {}, t("detail.device_history")),
          h(
            "ol",
            { class: "timeline" },
            history.items.map((tr) =>
              h(
                "li",
                {},
                h("time", { datetime: tr.at }, dateTime(tr.at)),
                h("span", { class: `avail avail-${tr.availability}` }, t(`avail.${tr.availability}`)),
                tr.reason ? h("span", {}, tOr(`reason.${tr.reason}`, tr.reason)) : null,
              ),
            ),
          ),
        ),
        alarms.items.length
          ? h(
              "section",
              { class: "panel" },
              h("h2", {}, t("detail.device_alarms")),
              h(
                "ul",
                { class: "related" },
                alarms.items.map((a) =>
                  h("li", {}, h("a", { href: `#/alarm/${encodeURIComponent(a.id)}` }, `${dateTime(a.raised_at)} · ${kindName(a.kind)} · ${t(`state.${a.state}`)}`)),
                ),
              ),
            )
          : null,
      ),
    ),
  );
}

// Camera uptime over 24 h / 7 d / 30 d, time-weighted: overall, per day and per camera.
import { api } from "./api.js";
import { barList, columnChart } from "./chart.js";
import { h, replace } from "./dom.js";
import { percent } from "./format.js";
import { t } from "./i18n.js";
import { schoolName, store } from "./state.js";

export const uptimeFilters = { days: 7, school: "" };
const TARGET = 0.95; // 完好率 target for key areas is 98 %, 95 % elsewhere (docs/glossary.md)
const PARALLEL = 4;
let generation = 0;

async function inBatches(items, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}

function cameraUptime(camera, start, end) {
  const path = `/schools/${encodeURIComponent(camera.school_id)}/devices/${encodeURIComponent(camera.id)}/uptime`;
  return api(path, { params: { start, end } }).catch(() => null);
}

// 在线率 counts online and degraded time; 完好率 only online time (a covered, frozen or black camera
// answers but shows nothing usable). Both are over known time: unknown time is never up.
const RATES = {
  uptime: (d) => d.online_s + d.degraded_s,
  intact: (d) => d.online_s,
};
const known = (d) => d.online_s + d.degraded_s + d.offline_s;

/** One rate per day, summed over cameras (days are the school's local days, from the hub). */
function perDay(results, rate) {
  const days = new Map();
  for (const r of results) {
    for (const d of r?.days ?? []) {
      const sum = days.get(d.day) ?? { up: 0, known: 0 };
      sum.up += RATES[rate](d);
      sum.known += known(d);
      days.set(d.day, sum);
    }
  }
  return [...days.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, s]) => ({ day, value: s.known ? s.up / s.known : null }));
}

function overall(results, rate) {
  let up = 0;
  let all = 0;
  for (const r of results) {
    for (const d of r?.days ?? []) {
      up += RATES[rate](d);
      all += known(d);
    }
  }
  return all ? up / all : null;
}

function toolbar(rerender) {
  const schools = [...new Set([...store.devices.values()].filter((d) => d.kind === "camera").map((d) => d.school_id))].sort();
  return h(
    "div",
    { class: "toolbar" },
    h("h1", {}, t("uptime.title")),
    h(
      "div",
      { class: "filters" },
      h(
        "div",
        { class: "range", role: "group" },
        [1, 7, 30].map((days) =>
          h(
            "button",
            {
              type: "button",
              class: days === uptimeFilters.days ? "primary" : "ghost",
              "aria-pressed": days === uptimeFilters.days ? "true" : "false",
              dataset: { days },
              onclick: () => {
                uptimeFilters.days = days;
                rerender();
              },
            },
            t(`uptime.range.${days}`),
          ),
        ),
      ),
      h(
        "label",
        { class: "filter" },
        h("span", {}, t("filter.school")),
        h(
          "select",
          {
            onchange: (e) => {
              uptimeFilters.school = e.target.value;
              rerender();
            },
          },
          [["", t("filter.all")], ...schools.map((s) => [s, schoolName(s)])].map(([v, text]) =>
            h("option", { value: v, selected: v === uptimeFilters.school }, text),
          ),
        ),
      ),
    ),
  );
}

/** Draw the camera uptime view; fetches each camera's uptime over the chosen range. */
export async function renderUptime(view) {
  const mine = ++generation;
  const rerender = () => renderUptime(view);
  const cameras = [...store.devices.values()]
    .filter((d) => d.kind === "camera")
    .filter((d) => !uptimeFilters.school || d.school_id === uptimeFilters.school);
  replace(view, toolbar(rerender), h("p", { class: "muted" }, t("uptime.loading")));
  if (!cameras.length) {
    replace(view, toolbar(rerender), h("p", { class: "empty" }, t("uptime.none")));
    return;
  }
  const end = new Date();
  const start = new Date(end.getTime() - uptimeFilters.days * 86400e3);
  const results = await inBatches(cameras, (c) => cameraUptime(c, start.toISOString(), end.toISOString()));
  if (mine !== generation || !view.isConnected) return; // the user moved on meanwhile
  const rows = cameras
    .map((c, i) => ({
      key: c.id,
      label: c.id,
      sub: `${schoolName(c.school_id)} · ${c.location || ""} · ${t("uptime.online_rate")} ${percent(results[i]?.uptime ?? null)}`,
      value: results[i]?.intact ?? null,
      uptime: results[i]?.uptime ?? null,
      href: `#/device/${encodeURIComponent(c.school_id)}/${encodeURIComponent(c.id)}`,
    }))
    .sort((a, b) => (a.value ?? -1) - (b.value ?? -1) || a.label.localeCompare(b.label));
  const online = overall(results, "uptime");
  const intact = overall(results, "intact");
  const below = rows.filter((r) => r.value !== null && r.value < TARGET).length;
  const days = perDay(results, "intact");
  replace(
    view,
    toolbar(rerender),
    h(
      "div",
      { class: "kpis" },
      h("div", { class: "kpi", dataset: { kpi: "overall" } }, h("b", {}, percent(online)), h("span", {}, t("uptime.overall"))),
      h("div", { class: "kpi", dataset: { kpi: "intact" } }, h("b", {}, percent(intact)), h("span", {}, t("uptime.intact"))),
      h("div", { class: "kpi" }, h("b", {}, cameras.length), h("span", {}, t("uptime.cameras"))),
      h("div", { class: `kpi${below ? " bad" : ""}` }, h("b", {}, below), h("span", {}, t("uptime.below", { p: TARGET * 100 }))),
    ),
    uptimeFilters.days > 1
      ? h(
          "section",
          { class: "panel" },
          h("h2", {}, t("uptime.per_day")),
          columnChart(
            days.map((d) => ({ label: d.day.slice(5), title: d.day, value: d.value })),
            { target: TARGET, label: t("uptime.per_day") },
          ),
        )
      : null,
    h("section", { class: "panel" }, h("h2", {}, t("uptime.per_camera")), barList(rows, { target: TARGET })),
  );
}

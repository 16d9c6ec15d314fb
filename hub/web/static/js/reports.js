// Monthly reports: pick a scope, a month and a format; the hub makes the file (GET /api/v1/reports/monthly).
import { h, replace } from "./dom.js";
import { currentLang, t } from "./i18n.js";
import { store } from "./state.js";

const FORMATS = ["pdf", "xlsx", "csv", "html"];

/** Last month, as YYYY-MM in the browser's calendar: the usual month to file. */
function lastMonth(now = new Date()) {
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

/** The scopes the caller sees whole: the city (a city account, or no accounts), its districts, its schools. */
function scopes() {
  const out = [];
  if (store.auth === "off" || store.me?.district === "*") out.push(["city", t("reports.city")]);
  const districts = new Set();
  for (const s of store.schools.values()) if (s.district) districts.add(s.district);
  const mine = store.me?.district;
  for (const d of [...districts].sort()) {
    if (store.auth === "off" || mine === "*" || mine === d) out.push([`district:${d}`, `${t("reports.district")} ${d}`]);
  }
  for (const s of [...store.schools.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    out.push([`school:${s.id}`, s.name || s.id]);
  }
  return out;
}

function link(form) {
  const params = new URLSearchParams({
    scope: form.scope.value,
    month: form.month.value,
    format: form.format.value,
    lang: currentLang(),
  });
  return `/api/v1/reports/monthly?${params}`;
}

export function renderReports(view) {
  const select = (name, options) =>
    h("select", { name }, ...options.map(([value, label]) => h("option", { value }, label)));
  const anchor = h("a", { class: "button primary", id: "report-link", rel: "noopener" }, t("reports.make"));
  const form = h(
    "form",
    { class: "card report-form", onsubmit: (e) => e.preventDefault() },
    h("h2", {}, t("reports.title")),
    h("p", { class: "muted" }, t("reports.intro")),
    h("label", {}, h("span", {}, t("reports.scope")), select("scope", scopes())),
    h("label", {}, h("span", {}, t("reports.month")), h("input", { name: "month", type: "month", value: lastMonth(), required: true })),
    h("label", {}, h("span", {}, t("reports.format")), select("format", FORMATS.map((f) => [f, t(`reports.format.${f}`)]))),
    anchor,
  );
  const update = () => {
    anchor.href = link(form);
    const page = form.format.value === "html"; // a web page opens in a tab; the others are files to keep
    anchor.toggleAttribute("download", !page);
    if (page) anchor.target = "_blank";
    else anchor.removeAttribute("target");
  };
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
  replace(view, form);
}

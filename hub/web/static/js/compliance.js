// 达标 (compliance): the district table (every school's rates, ranking and 30-day trend) and a
// school's card (its rates, and what to fix first: failing rules by severity, with their citations).
import { api } from "./api.js";
import { h, replace, s } from "./dom.js";
import { dateTime, percent } from "./format.js";
import { currentLang, t } from "./i18n.js";
import { schoolName } from "./state.js";

const DAYS = 30;
const SEVERITY = { critical: 0, major: 1, minor: 2 };
let generation = 0;

function sparkline(days) {
  const values = days.map((d) => d.online_rate);
  const known = values.filter((v) => v !== null);
  const svg = s("svg", { class: "spark", viewBox: "0 0 120 24", preserveAspectRatio: "none", role: "img", "aria-label": t("compliance.trend") });
  if (known.length < 2) return svg;
  const low = Math.min(0.9, ...known);
  const x = (i) => (i / Math.max(values.length - 1, 1)) * 118 + 1;
  const y = (v) => 22 - ((v - low) / (1 - low || 1)) * 20;
  const points = values.map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean);
  svg.append(s("polyline", { points: points.join(" "), fill: "none" }));
  return svg;
}

function verdict(compliant) {
  const key = compliant === true ? "yes" : compliant === false ? "no" : "unknown";
  return h("span", { class: `verdict verdict-${key}` }, t(`compliance.compliant.${key}`));
}

function tiles(pairs) {
  return h("div", { class: "kpi-tiles" }, ...pairs.map(([label, value]) => h("div", { class: "kpi" }, h("b", {}, value), h("span", {}, label))));
}

async function load(school) {
  const end = new Date();
  const start = new Date(end.getTime() - DAYS * 86400e3);
  const params = { start: start.toISOString(), end: end.toISOString(), ...(school ? { school } : {}) };
  const [rates, kpis, findings, targets] = await Promise.all([
    api("/rates", { params }),
    api("/compliance/kpis", { params: school ? { school } : {} }),
    school ? api("/compliance/findings", { params: { school } }) : Promise.resolve([]),
    school ? Promise.resolve([]) : api("/compliance/targets"),
  ]);
  return { rates, kpis, findings, targets };
}

/** Targets with a deadline: where each district stands (met, missed, unknown), before and after it. */
function targetsPanel(targets) {
  if (!targets.length) return null;
  const heads = ["district", "bound", "met", "missed", "unknown", "rate"];
  const one = (target) => {
    const reached = target.total.bound > 0 && target.total.met === target.total.bound;
    const state = reached ? "met" : target.past ? "late" : "open";
    const row = (d) =>
      h(
        "tr",
        { dataset: { district: d.district ?? "" } },
        h("td", {}, d.district ?? t("compliance.targets.no_district")),
        ...[d.bound, d.met, d.missed, d.unknown].map((n) => h("td", { class: "n" }, n)),
        h("td", { class: "n" }, percent(d.rate)),
      );
    return h(
      "article",
      { class: `target target-${state}`, dataset: { rule: target.rule_id } },
      h("h3", {}, currentLang() === "en" ? target.text_en : target.text_zh),
      h(
        "p",
        {},
        h("b", { class: "target-state" }, t(`compliance.targets.${state}`)),
        ` · ${t("compliance.targets.deadline", { d: target.deadline })} · ${percent(target.total.rate)} (${target.total.met}/${target.total.bound})`,
      ),
      h("table", { class: "ranking" }, h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", {}, t(`compliance.targets.col.${k}`))))), h("tbody", {}, ...target.districts.map(row))),
      h("blockquote", {}, `“${target.source.quote}”`, h("cite", {}, ` ${target.source.document} ${target.source.clause}`)),
    );
  };
  return h("section", { class: "panel targets" }, h("h2", {}, t("compliance.targets.title")), ...targets.map(one));
}

function table({ rates, kpis, targets }) {
  const kpiOf = new Map(kpis.schools.map((k) => [k.school_id, k]));
  const heads = ["rank", "school", "district", "online", "intact", "networked", "compliant", "trend"];
  const rows = rates.schools.map((r) => {
    const k = kpiOf.get(r.school_id);
    return h(
      "tr",
      { dataset: { school: r.school_id } },
      h("td", { class: "n" }, r.rank ?? "–"),
      h("td", {}, h("a", { href: `#/compliance/${encodeURIComponent(r.school_id)}` }, r.name || schoolName(r.school_id))),
      h("td", {}, r.district ?? ""),
      h("td", { class: "n" }, percent(r.online_rate)),
      h("td", { class: "n" }, percent(r.intact_rate)),
      h("td", { class: "n" }, percent(k?.networking_rate ?? null)),
      h("td", {}, verdict(k?.compliant ?? null)),
      h("td", {}, sparkline(r.days)),
    );
  });
  return h(
    "section",
    { class: "panel compliance-table" },
    h("h1", {}, t("compliance.title", { n: DAYS })),
    tiles([
      [t("uptime.online_rate"), percent(rates.total.online_rate)],
      [t("uptime.intact"), percent(rates.total.intact_rate)],
      [t("compliance.networked"), percent(kpis.networking_rate)],
      [t("compliance.rate"), `${percent(kpis.compliance_rate)} (${kpis.compliant}/${kpis.schools_total})`],
    ]),
    h("table", { class: "ranking schools" }, h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", {}, t(`compliance.col.${k}`))))), h("tbody", {}, ...rows)),
    h("p", { class: "muted" }, t("compliance.note")),
    targetsPanel(targets),
  );
}

function finding(f) {
  return h(
    "li",
    { class: `finding finding-${f.status}`, dataset: { rule: f.rule_id, severity: f.severity } },
    h("div", { class: "finding-head" }, h("span", { class: "finding-sev" }, t(`compliance.severity.${f.severity}`)), h("b", {}, currentLang() === "en" ? f.text_en : f.text_zh), h("span", { class: "muted" }, ` ${f.subject}`)),
    h("div", {}, f.evidence, f.missing.length ? ` · ${t("compliance.missing")}: ${f.missing.join(", ")}` : ""),
    when(f),
    h("blockquote", {}, `“${f.source.quote}”`, h("cite", {}, ` ${f.source.document} ${f.source.clause}`)),
  );
}

/** Since when, the repair deadline (marked when overdue) and a district's override, as far as known. */
function when(f) {
  const parts = [];
  if (f.since) parts.push(h("span", { class: "finding-since" }, t("compliance.since", { t: dateTime(f.since) })));
  if (f.deadline) parts.push(h("span", { class: "finding-deadline" }, ` · ${t("compliance.deadline", { t: dateTime(f.deadline) })}`));
  if (f.overdue) parts.push(h("b", { class: "finding-overdue" }, ` ${t("compliance.overdue")}`));
  if (f.overridden) parts.push(h("span", { class: "muted" }, ` · ${t("compliance.overridden", { r: f.overridden })}`));
  return parts.length ? h("div", { class: "finding-when" }, ...parts) : null;
}

function card(school, { rates, kpis, findings }) {
  const r = rates.schools[0];
  const k = kpis.schools[0];
  const order = (a, b) =>
    (b.overdue ? 1 : 0) - (a.overdue ? 1 : 0) ||
    (SEVERITY[a.severity] ?? 3) - (SEVERITY[b.severity] ?? 3) ||
    (a.deadline || "~").localeCompare(b.deadline || "~") ||
    a.rule_id.localeCompare(b.rule_id);
  const failing = findings.filter((f) => f.status === "fail").sort(order);
  const unknown = findings.filter((f) => f.status === "unknown").sort(order);
  return h(
    "article",
    { class: "panel compliance-card", dataset: { school } },
    h("a", { class: "button ghost", href: "#/compliance" }, `← ${t("action.back")}`),
    h("h1", {}, `${r?.name || schoolName(school)} · `, verdict(k?.compliant ?? null)),
    tiles([
      [t("uptime.online_rate"), percent(r?.online_rate ?? null)],
      [t("uptime.intact"), percent(r?.intact_rate ?? null)],
      [t("compliance.networked"), percent(k?.networking_rate ?? null)],
      [t("compliance.rank"), r?.rank ?? "–"],
    ]),
    h("h2", {}, t("compliance.fix_first", { n: failing.length })),
    failing.length ? h("ol", { class: "findings" }, ...failing.map(finding)) : h("p", { class: "empty" }, t("compliance.none_failing")),
    h("h2", {}, t("compliance.to_check", { n: unknown.length })),
    unknown.length ? h("ol", { class: "findings" }, ...unknown.map(finding)) : h("p", { class: "empty" }, t("compliance.none_unknown")),
    k?.reasons?.length ? h("p", { class: "muted reasons" }, `${t("compliance.why")}: ${k.reasons.join("; ")}`) : null,
  );
}

/** The district table, or one school's card (#/compliance/SCHOOL). */
export async function renderCompliance(view, school) {
  const mine = ++generation;
  replace(view, h("p", { class: "muted" }, t("uptime.loading")));
  let data;
  try {
    data = await load(school);
  } catch (error) {
    if (mine === generation) replace(view, h("p", { class: "error" }, t("error.generic", { m: error.message })));
    return;
  }
  if (mine !== generation || !view.isConnected) return;
  replace(view, school ? card(school, data) : table(data));
}

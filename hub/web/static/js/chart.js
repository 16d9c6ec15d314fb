// Hand-written SVG charts: uptime per day (columns) and per camera (bars), with a target line.
import { h, s } from "./dom.js";
import { percent } from "./format.js";
import { t } from "./i18n.js";

function level(value, target) {
  if (value === null || value === undefined) return "none";
  if (value >= target) return "good";
  if (value >= target - 0.15) return "warn";
  return "bad";
}

/**
 * Columns, one per point {label, value (0..1 or null), title}; the y axis is 0..100 %.
 * Returns an <svg> that scales to its container's width.
 */
export function columnChart(points, { target = 0.95, height = 180, label = "" } = {}) {
  const width = 800; // viewBox units: the SVG scales to its container
  const left = 44;
  const top = 10;
  const bottom = 28;
  const plotH = height - top - bottom;
  const step = (width - left - 10) / Math.max(points.length, 1);
  const y = (v) => top + plotH * (1 - v);
  const svg = s("svg", {
    class: "chart columns",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": label,
    preserveAspectRatio: "xMidYMid meet",
  });
  for (const tick of [0, 0.5, 1]) {
    svg.append(
      s("line", { class: "grid", x1: left, x2: width - 10, y1: y(tick), y2: y(tick) }),
      s("text", { class: "axis", x: left - 6, y: y(tick) + 4, "text-anchor": "end" }, `${tick * 100}%`),
    );
  }
  points.forEach((p, i) => {
    const x = left + i * step + step * 0.15;
    const w = step * 0.7;
    const value = p.value ?? 0;
    const bar = s("rect", {
      class: `bar ${level(p.value, target)}`,
      x,
      y: p.value === null ? y(1) : y(value),
      width: w,
      height: p.value === null ? plotH : Math.max(1, plotH * value),
    });
    bar.append(s("title", {}, `${p.title ?? p.label}: ${p.value === null ? t("uptime.no_data") : percent(p.value)}`));
    svg.append(bar);
    const every = Math.ceil(points.length / 10);
    if (i % every === 0 || i === points.length - 1) {
      svg.append(s("text", { class: "axis", x: x + w / 2, y: height - 10, "text-anchor": "middle" }, p.label));
    }
  });
  svg.append(
    s("line", { class: "target", x1: left, x2: width - 10, y1: y(target), y2: y(target) }),
    s("text", { class: "target-label", x: width - 12, y: y(target) - 4, "text-anchor": "end" }, t("uptime.target", { p: target * 100 })),
  );
  return svg;
}

/** Horizontal bars, one per row {label, sub, value (0..1 or null), href}; worst first is the caller's choice. */
export function barList(rows, { target = 0.95 } = {}) {
  return h(
    "ol",
    { class: "bar-list" },
    rows.map((row) =>
      h(
        "li",
        { class: `bar-row ${level(row.value, target)}`, dataset: { device: row.key ?? "" } },
        h("a", { class: "bar-label", href: row.href ?? null }, h("b", {}, row.label), row.sub ? h("small", {}, row.sub) : null),
        h(
          "span",
          { class: "bar-track", role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": row.value === null ? null : Math.round(row.value * 1000) / 10 },
          h("span", { class: "bar-fill", style: { width: `${row.value === null ? 0 : (row.value * 100).toFixed(1)}%` } }),
          h("span", { class: "bar-target", style: { left: `${(target * 100).toFixed(1)}%` } }),
        ),
        h("span", { class: "bar-value" }, row.value === null ? t("uptime.no_data") : percent(row.value)),
      ),
    ),
  );
}

/**
 * A line over time, points {at (ms), mean, min, max}, with the min–max band when buckets hold
 * several values. The y axis spans the values; the x axis the points' times. Returns an <svg>.
 */
export function lineChart(points, { height = 140, label = "", unit = "" } = {}) {
  const width = 800;
  const left = 52;
  const top = 8;
  const bottom = 24;
  const plotH = height - top - bottom;
  const lows = points.map((p) => p.min);
  const highs = points.map((p) => p.max);
  let lo = Math.min(...lows);
  let hi = Math.max(...highs);
  if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  const t0 = points[0].at;
  const t1 = points[points.length - 1].at;
  const x = (at) => left + ((at - t0) / Math.max(t1 - t0, 1)) * (width - left - 10);
  const y = (v) => top + plotH * (1 - (v - lo) / (hi - lo));
  const svg = s("svg", { class: "chart line", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, preserveAspectRatio: "xMidYMid meet" });
  for (const v of [lo, (lo + hi) / 2, hi]) {
    svg.append(
      s("line", { class: "grid", x1: left, x2: width - 10, y1: y(v), y2: y(v) }),
      s("text", { class: "axis", x: left - 6, y: y(v) + 4, "text-anchor": "end" }, `${Number(v.toPrecision(3))}${unit}`),
    );
  }
  if (points.some((p) => p.max > p.min)) {
    const band = [...points.map((p) => `${x(p.at)},${y(p.max)}`), ...points.slice().reverse().map((p) => `${x(p.at)},${y(p.min)}`)];
    svg.append(s("polygon", { class: "band", points: band.join(" ") }));
  }
  svg.append(s("polyline", { class: "series", points: points.map((p) => `${x(p.at)},${y(p.mean)}`).join(" "), fill: "none" }));
  for (const at of [t0, t1]) {
    const text = new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    svg.append(s("text", { class: "axis", x: x(at), y: height - 6, "text-anchor": at === t0 ? "start" : "end" }, text));
  }
  return svg;
}

// Times and numbers for people: local time, "3 minutes ago", percentages.
import { locale } from "./i18n.js";

/** A local date and time, e.g. 2024-05-01 14:03:07. */
export function dateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(locale(), {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });
}

/** A local time of day, with the date when it is not today. */
export function shortTime(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  const sameDay = at.toDateString() === new Date().toDateString();
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  if (!sameDay) Object.assign(options, { month: "2-digit", day: "2-digit" });
  return at.toLocaleString(locale(), options);
}

/** How long ago, e.g. "3 分钟前" / "3 minutes ago". */
export function ago(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "always", style: "long" });
  if (seconds < 60) return rtf.format(-seconds, "second");
  if (seconds < 3600) return rtf.format(-Math.floor(seconds / 60), "minute");
  if (seconds < 86400) return rtf.format(-Math.floor(seconds / 3600), "hour");
  return rtf.format(-Math.floor(seconds / 86400), "day");
}

/** A ratio 0..1 as a percentage with one decimal, or "–" when unknown. */
export function percent(ratio) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "–";
  return `${(ratio * 100).toFixed(1)}%`;
}

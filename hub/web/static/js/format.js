// Times and numbers for people: local time, "3 minutes ago", percentages.
import { locale } from "./i18n.js";

// Intl formatters are costly to make and cheap to use: a board of 2,000 alarms formats thousands of
// times per redraw (and its "ago" labels every second), so each is made once per language.
const formatters = new Map(); // options object -> {lang, made}: the options are this module's constants

function formatter(kind, options) {
  const lang = locale();
  let found = formatters.get(options);
  if (!found || found.lang !== lang) {
    const made = kind === "relative" ? new Intl.RelativeTimeFormat(lang, options) : new Intl.DateTimeFormat(lang, options);
    found = { lang, made };
    formatters.set(options, found);
  }
  return found.made;
}

const FULL = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
const TIME = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
const DAY_TIME = { ...TIME, month: "2-digit", day: "2-digit" };
const RELATIVE = { numeric: "always", style: "long" };

/** A local date and time, e.g. 2024-05-01 14:03:07. */
export function dateTime(iso) {
  if (!iso) return "";
  return formatter("date", FULL).format(new Date(iso));
}

/** A local time of day, with the date when it is not today. */
export function shortTime(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  const sameDay = at.toDateString() === new Date().toDateString();
  return formatter("date", sameDay ? TIME : DAY_TIME).format(at);
}

/** How long ago, e.g. "3 分钟前" / "3 minutes ago". */
export function ago(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  const rtf = formatter("relative", RELATIVE);
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

const ZONED = { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false };
const zoned = new Map(); // "lang|zone" -> formatter

/** A time as a place reads it (a school's own time zone, not the browser's), e.g. 11-28 08:00. */
export function zonedTime(iso, timeZone) {
  if (!iso) return "–";
  const key = `${locale()}|${timeZone}`;
  let found = zoned.get(key);
  if (!found) {
    try {
      found = new Intl.DateTimeFormat(locale(), { ...ZONED, timeZone });
    } catch {
      return shortTime(iso); // a zone this browser does not know
    }
    zoned.set(key, found);
  }
  return found.format(new Date(iso));
}

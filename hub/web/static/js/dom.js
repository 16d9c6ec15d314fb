// Building DOM safely: data always goes in as text (textContent), never as HTML.
import { t } from "./i18n.js";

/**
 * Create an element: h("div", {class: "x", onclick: fn, dataset: {id: 1}}, "text", child, [more]).
 * Strings and numbers become text nodes; null, undefined and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "style") Object.assign(el.style, value); // CSSOM: allowed by the CSP, unlike style=""
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an SVG element with attributes; text children go in as text. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** Replace an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let toastTimer = 0;

/** A short message at the bottom of the screen. */
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, 5000);
}

/** An API call that failed, said in a toast: the network, or the hub's own words. */
export function toastFailure(error) {
  toast(error.status === 0 ? t("error.network") : t("error.generic", { m: error.message }), "error");
}

/** A table with translated column heads (an empty key: no head), or a line saying it is empty (a key). */
export function gridTable(cls, heads, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, t(empty));
  return h("table", { class: `grid ${cls}` }, h("thead", {}, h("tr", {}, heads.map((k) => h("th", {}, k ? t(k) : "")))), h("tbody", {}, rows));
}

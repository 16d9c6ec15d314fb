// Dead letters for IT: messages the hub could not take (a broken or hostile gateway), newest first.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { dateTime } from "./format.js";
import { t } from "./i18n.js";

let generation = 0;

function row(letter) {
  const excerpt = letter.payload.length > 160 ? `${letter.payload.slice(0, 160)}…` : letter.payload;
  return h(
    "tr",
    { dataset: { stage: letter.stage } },
    h("td", {}, dateTime(letter.received_at)),
    h("td", {}, letter.source),
    h("td", {}, t(`dead.stage.${letter.stage}`)),
    h("td", {}, letter.reason),
    h("td", { class: "detail" }, letter.detail),
    h("td", { class: "payload" }, h("code", {}, excerpt), h("span", { class: "muted" }, ` (${letter.size} B)`)),
  );
}

export async function renderDeadLetters(view) {
  const mine = ++generation;
  replace(view, h("p", { class: "muted" }, t("dead.loading")));
  let page;
  try {
    page = await api("/dead-letters", { params: { limit: 200 } });
  } catch (err) {
    if (mine === generation) replace(view, h("p", { class: "error" }, String(err.message ?? err)));
    return;
  }
  if (mine !== generation || !view.isConnected) return;
  const heads = ["received", "source", "stage", "reason", "detail", "payload"].map((k) => h("th", {}, t(`dead.col.${k}`)));
  replace(
    view,
    h("p", { class: "muted" }, t("dead.intro", { n: page.total })),
    page.items.length
      ? h("table", { class: "dead-letters" }, h("thead", {}, h("tr", {}, ...heads)), h("tbody", {}, ...page.items.map(row)))
      : h("p", { class: "empty" }, t("dead.none")),
  );
}

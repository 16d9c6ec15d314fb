// For IT staff and admins: the gateways (agent version, heartbeat lag, spool), and the accounts with
// their API tokens (school and district admins, within their own scope; the hub decides and audits).
import { api } from "./api.js";
import { gridTable, h, replace, toast, toastFailure } from "./dom.js";
import { ago, dateTime } from "./format.js";
import { t } from "./i18n.js";
import { schoolName, store } from "./state.js";

const ROLES = ["guard", "it_staff", "school_admin", "district_admin", "viewer"];

function when(iso) {
  return iso ? h("span", { title: dateTime(iso), dataset: { ago: iso } }, ago(iso)) : "–";
}

function spool(gw) {
  if (gw.spool_failing) return h("span", { class: "avail avail-offline" }, t("gateways.spool_failing"));
  return gw.spool_pending === null || gw.spool_pending === undefined ? "–" : String(gw.spool_pending);
}

function lag(gw) {
  if (gw.publish_lag_s === null || gw.publish_lag_s === undefined) return "–";
  const seconds = gw.publish_lag_s;
  return h("span", { class: Math.abs(seconds) > 10 ? "warn" : "" }, `${seconds.toFixed(1)} s`);
}

/** Every gateway in scope: liveness, agent version, heartbeat, lag, spool and device count. */
export async function renderGateways(view) {
  let page;
  try {
    page = await api("/gateways");
  } catch (error) {
    toastFailure(error);
    return;
  }
  const order = { offline: 0, degraded: 1, unknown: 2, online: 3 };
  const rows = page.items
    .sort((a, b) => (order[a.availability] ?? 9) - (order[b.availability] ?? 9) || a.school_id.localeCompare(b.school_id) || a.id.localeCompare(b.id))
    .map((gw) =>
      h(
        "tr",
        { dataset: { gateway: `${gw.school_id}/${gw.id}`, availability: gw.availability } },
        h("td", {}, h("strong", {}, gw.id), h("div", { class: "muted" }, schoolName(gw.school_id))),
        h("td", {}, h("span", { class: `avail avail-${gw.availability}` }, t(`avail.${gw.availability}`)), gw.reason ? ` ${gw.reason}` : ""),
        h("td", {}, gw.agent_version || "–"),
        h("td", {}, when(gw.last_seen)),
        h("td", {}, when(gw.last_heartbeat)),
        h("td", { class: "num" }, lag(gw)),
        h("td", { class: "num" }, spool(gw)),
        h("td", { class: "num" }, String(gw.devices)),
      ),
    );
  const heads = ["gateways.col.gateway", "gateways.col.state", "gateways.col.version", "gateways.col.seen", "gateways.col.heartbeat", "gateways.col.lag", "gateways.col.spool", "gateways.col.devices"];
  replace(
    view,
    h("section", { class: "card gateways" }, h("h2", {}, t("gateways.title")), h("p", { class: "muted" }, t("gateways.intro")), gridTable("gateway-table", heads, rows, "gateways.none")),
  );
}

function scopeText(user) {
  if (user.district === "*") return t("users.everywhere");
  if (user.district) return `${t("patrol.district")} ${user.district}`;
  return user.schools.map(schoolName).join("、");
}

async function showTokens(user, box) {
  let page;
  try {
    page = await api(`/users/${encodeURIComponent(user.username)}/tokens`);
  } catch (error) {
    toastFailure(error);
    return;
  }
  const revoke = async (token) => {
    if (!confirm(t("tokens.revoke.confirm", { name: token.name }))) return;
    try {
      await api(`/tokens/${token.id}`, { method: "DELETE" });
      showTokens(user, box);
    } catch (error) {
      toastFailure(error);
    }
  };
  const create = async (event) => {
    event.preventDefault();
    try {
      const made = await api(`/users/${encodeURIComponent(user.username)}/tokens`, { method: "POST", body: { name: event.target.name.value.trim() } });
      await showTokens(user, box);
      box.prepend(h("p", { class: "secret", role: "status" }, t("tokens.once"), h("code", {}, made.token)));
    } catch (error) {
      toastFailure(error);
    }
  };
  const rows = page.items.map((tk) =>
    h(
      "tr",
      { dataset: { token: tk.id, revoked: tk.revoked_at ? "yes" : "no" } },
      h("td", {}, tk.name),
      h("td", {}, h("code", {}, `${tk.prefix}…`)),
      h("td", {}, when(tk.created_at)),
      h("td", {}, when(tk.last_used_at)),
      h("td", {}, tk.revoked_at ? t("tokens.revoked") : h("button", { type: "button", class: "ghost", onclick: () => revoke(tk) }, t("tokens.revoke"))),
    ),
  );
  replace(
    box,
    gridTable("token-table", ["tokens.col.name", "tokens.col.prefix", "tokens.col.created", "tokens.col.used", ""], rows, "tokens.none"),
    h("form", { class: "inline", onsubmit: create }, h("input", { name: "name", required: true, maxlength: 200, placeholder: t("tokens.name") }), h("button", { type: "submit" }, t("tokens.create"))),
  );
}

function userRow(user) {
  const tokensBox = h("div", { class: "tokens" });
  const toggle = async () => {
    try {
      await api(`/users/${encodeURIComponent(user.username)}`, { method: "PATCH", body: { disabled: !user.disabled } });
      renderUsers(document.getElementById("view"));
    } catch (error) {
      toastFailure(error);
    }
  };
  const self = store.me?.username === user.username;
  return [
    h(
      "tr",
      { dataset: { user: user.username, disabled: user.disabled ? "yes" : "no" } },
      h("td", {}, h("strong", {}, user.display_name || user.username), h("div", { class: "muted" }, user.username)),
      h("td", {}, t(`role.${user.role}`)),
      h("td", {}, scopeText(user)),
      h("td", {}, user.disabled ? t("users.disabled") : t("users.active")),
      h(
        "td",
        { class: "actions" },
        self ? null : h("button", { type: "button", class: "ghost", onclick: toggle }, t(user.disabled ? "users.enable" : "users.disable")),
        h("button", { type: "button", class: "ghost", onclick: () => (tokensBox.childElementCount ? replace(tokensBox) : showTokens(user, tokensBox)) }, t("users.tokens")),
      ),
    ),
    h("tr", { class: "token-row" }, h("td", { colspan: 5 }, tokensBox)),
  ];
}

function newUserForm() {
  const create = async (event) => {
    event.preventDefault();
    const f = event.target;
    const role = f.role.value;
    const where = f.scope.value.trim();
    const district = role === "district_admin" || where.startsWith("district:") ? where.replace(/^district:/, "") || null : null;
    const schools = district ? [] : where.split(/[,，\s]+/).filter(Boolean);
    const body = { username: f.username.value.trim(), display_name: f.display.value.trim(), role, schools, district };
    try {
      const made = await api("/users", { method: "POST", body });
      await renderUsers(document.getElementById("view"));
      if (made.password) toast(t("users.password_once", { user: made.user.username, p: made.password }));
    } catch (error) {
      toastFailure(error);
    }
  };
  const field = (label, input) => h("label", {}, h("span", {}, t(label)), input);
  return h(
    "details",
    { class: "plan-form" },
    h("summary", {}, t("users.new")),
    h(
      "form",
      { onsubmit: create },
      field("users.f.username", h("input", { name: "username", required: true, maxlength: 64, autocomplete: "off" })),
      field("users.f.display", h("input", { name: "display", maxlength: 200 })),
      field("users.f.role", h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r }, t(`role.${r}`))))),
      field("users.f.scope", h("input", { name: "scope", required: true, placeholder: t("users.f.scope_hint") })),
      h("button", { type: "submit", class: "primary" }, t("users.f.create")),
    ),
  );
}

/** The accounts the caller may manage, each with its tokens on demand, and a form for a new one. */
export async function renderUsers(view) {
  let page;
  try {
    page = await api("/users");
  } catch (error) {
    toastFailure(error);
    replace(view, h("p", { class: "muted" }, t("users.not_allowed")));
    return;
  }
  const rows = page.items.sort((a, b) => a.username.localeCompare(b.username)).flatMap(userRow);
  replace(
    view,
    h(
      "section",
      { class: "card users" },
      h("h2", {}, t("users.title")),
      h("p", { class: "muted" }, t("users.intro")),
      gridTable("user-table", ["users.col.name", "users.col.role", "users.col.scope", "users.col.state", ""], rows, "users.none"),
      newUserForm(),
    ),
  );
}

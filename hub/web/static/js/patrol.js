// Online video patrol (网上巡查): the plans with their round now (due, overdue, done), a patrol that
// steps through a plan's cameras with their live image, and the records of who patrolled what and when.
import { api } from "./api.js";
import { gridTable, h, replace, toast, toastFailure } from "./dom.js";
import { dateTime, shortTime, zonedTime } from "./format.js";
import { t } from "./i18n.js";
import { liveView } from "./pictures.js";
import { deviceKey, schoolName, store } from "./state.js";

const EDITORS = new Set(["school_admin", "district_admin"]);

function mayEdit() {
  return store.auth === "off" || EDITORS.has(store.me?.role);
}

function cameraLabel(c) {
  const device = store.devices.get(deviceKey(c.school_id, c.device_id));
  const where = device?.location ? ` · ${device.location}` : "";
  return `${schoolName(c.school_id)} · ${c.device_id}${where}`;
}

function scopeLabel(scope) {
  const [kind, id] = scope.split(":");
  return kind === "school" ? schoolName(id) : `${t("patrol.district")} ${id}`;
}

function roundBadge(plan) {
  if (!plan.enabled) return h("span", { class: "badge muted" }, t("patrol.off"));
  const state = plan.current?.state ?? "idle";
  const text = state === "idle" ? t("patrol.idle", { t: zonedTime(plan.next_at, plan.timezone) }) : t(`patrol.state.${state}`);
  return h("span", { class: `badge round-${state}`, dataset: { state } }, text);
}

function planRow(plan, mayPatrol) {
  const start = async () => {
    try {
      const run = await api(`/patrols/plans/${encodeURIComponent(plan.id)}/runs`, { method: "POST" });
      location.hash = `#/patrol/run/${encodeURIComponent(run.id)}`;
    } catch (error) {
      toastFailure(error);
    }
  };
  const remove = async () => {
    if (!confirm(t("patrol.delete.confirm", { name: plan.name }))) return;
    try {
      await api(`/patrols/plans/${encodeURIComponent(plan.id)}`, { method: "DELETE" });
      renderPatrol(document.getElementById("view"));
    } catch (error) {
      toastFailure(error);
    }
  };
  const today = plan.today;
  return h(
    "tr",
    { dataset: { plan: plan.id, state: plan.current?.state ?? "idle" } },
    h("td", {}, h("strong", {}, plan.name), h("div", { class: "muted" }, scopeLabel(plan.scope))),
    h("td", {}, t("patrol.hours", { start: plan.start, end: plan.end, every: plan.every_min }), h("div", { class: "muted" }, t("patrol.cameras", { n: plan.cameras.length }))),
    h("td", {}, roundBadge(plan)),
    h("td", { class: "num" }, t("patrol.today", { done: today.done, owed: today.owed, missed: today.missed })),
    h("td", {}, plan.last_run ? `${plan.last_run.officer} · ${zonedTime(plan.last_run.started_at, plan.timezone)}` : "–"),
    h(
      "td",
      { class: "actions" },
      mayPatrol && plan.enabled ? h("button", { type: "button", class: "primary", onclick: start }, t("patrol.start")) : null,
      mayEdit() ? h("button", { type: "button", class: "ghost", onclick: remove }, t("patrol.delete")) : null,
    ),
  );
}

function recordRow(run) {
  const checked = new Map(run.checks.map((c) => [`${c.school_id}/${c.device_id}`, c]));
  const problems = run.checks.filter((c) => c.result === "problem");
  return h(
    "tr",
    { dataset: { run: run.id, state: run.state } },
    h("td", { title: dateTime(run.started_at) }, shortTime(run.started_at)),
    h("td", {}, run.plan_name),
    h("td", {}, run.officer_name),
    h("td", {}, t(`patrol.run.${run.state}`)),
    h("td", { class: "num" }, `${checked.size}/${run.cameras.length}`),
    h(
      "td",
      {},
      problems.length
        ? problems.map((c) => h("a", { href: c.alarm_id ? `#/alarm/${encodeURIComponent(c.alarm_id)}` : null, class: "problem" }, `${c.device_id}：${c.note}`))
        : t("patrol.all_normal"),
    ),
  );
}

/** The patrol page: plans (with the round now), a new plan for admins, and the records. */
export async function renderPatrol(view) {
  replace(view, h("p", { class: "muted" }, "…"));
  let plans;
  let runs;
  try {
    [plans, runs] = await Promise.all([api("/patrols/plans"), api("/patrols/runs", { params: { limit: 50 } })]);
  } catch (error) {
    toastFailure(error);
    return;
  }
  const overdue = plans.items.filter((p) => p.current?.state === "overdue").length;
  replace(
    view,
    h(
      "section",
      { class: "card patrol" },
      h("h2", {}, t("patrol.title")),
      h("p", { class: "muted" }, t("patrol.intro")),
      overdue ? h("p", { class: "alert", role: "status" }, t("patrol.overdue", { n: overdue })) : null,
      gridTable("plans", ["patrol.col.plan", "patrol.col.hours", "patrol.col.now", "patrol.col.today", "patrol.col.last", ""], plans.items.map((p) => planRow(p, plans.may_patrol)), "patrol.none"),
      mayEdit() ? planForm() : null,
    ),
    h(
      "section",
      { class: "card patrol-records" },
      h("h2", {}, t("patrol.records")),
      gridTable("records", ["patrol.col.when", "patrol.col.plan", "patrol.col.officer", "patrol.col.state", "patrol.col.checked", "patrol.col.found"], runs.items.map(recordRow), "patrol.no_records"),
    ),
  );
}

function planForm() {
  const cameras = [...store.devices.values()].filter((d) => d.kind === "camera").sort((a, b) => deviceKey(a.school_id, a.id).localeCompare(deviceKey(b.school_id, b.id)));
  const scopes = [...new Set(cameras.map((c) => c.school_id))].map((id) => [`school:${id}`, schoolName(id)]);
  const districts = new Set([...store.schools.values()].map((s) => s.district).filter(Boolean));
  if (store.auth === "off" || store.me?.role === "district_admin") for (const d of [...districts].sort()) scopes.push([`district:${d}`, `${t("patrol.district")} ${d}`]);
  const field = (label, input) => h("label", {}, h("span", {}, t(label)), input);
  const submit = async (event) => {
    event.preventDefault();
    const form = event.target;
    const picked = [...form.querySelectorAll("input[name=camera]:checked")].map((i) => JSON.parse(i.value));
    const body = {
      scope: form.scope.value, name: form.name.value.trim(), cameras: picked, start: form.start.value,
      end: form.end.value, every_min: Number(form.every.value), grace_min: Number(form.grace.value),
    };
    try {
      await api("/patrols/plans", { method: "POST", body });
      toast(t("patrol.saved"));
      renderPatrol(document.getElementById("view"));
    } catch (error) {
      toastFailure(error);
    }
  };
  return h(
    "details",
    { class: "plan-form" },
    h("summary", {}, t("patrol.new")),
    h(
      "form",
      { onsubmit: submit },
      field("patrol.f.name", h("input", { name: "name", required: true, maxlength: 80 })),
      field("patrol.f.scope", h("select", { name: "scope" }, scopes.map(([v, l]) => h("option", { value: v }, l)))),
      h("fieldset", {}, h("legend", {}, t("patrol.f.cameras")), cameras.map((c) =>
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "camera", value: JSON.stringify({ school_id: c.school_id, device_id: c.id }) }), cameraLabel({ school_id: c.school_id, device_id: c.id })),
      )),
      field("patrol.f.start", h("input", { name: "start", type: "time", value: "08:00", required: true })),
      field("patrol.f.end", h("input", { name: "end", type: "time", value: "18:00", required: true })),
      field("patrol.f.every", h("input", { name: "every", type: "number", min: 5, max: 1440, value: 120, required: true })),
      field("patrol.f.grace", h("input", { name: "grace", type: "number", min: 0, max: 1440, value: 30, required: true })),
      h("button", { type: "submit", class: "primary" }, t("patrol.f.save")),
    ),
  );
}

/** A patrol under way: one camera at a time, live, marked normal or reported; then finished. */
export async function renderPatrolRun(view, runId) {
  let run;
  try {
    run = await api(`/patrols/runs/${encodeURIComponent(runId)}`);
  } catch (error) {
    toastFailure(error);
    replace(view, h("p", { class: "muted" }, t("patrol.no_run")));
    return;
  }
  const done = new Map(run.checks.map((c) => [`${c.school_id}/${c.device_id}`, c]));
  const next = run.cameras.find((c) => !done.has(`${c.school_id}/${c.device_id}`));
  const back = h("a", { href: "#/patrol" }, t("patrol.back"));
  const steps = h("ol", { class: "patrol-steps" }, run.cameras.map((c) => {
    const check = done.get(`${c.school_id}/${c.device_id}`);
    return h("li", { dataset: { result: check?.result ?? "todo" } }, cameraLabel(c), check ? ` — ${t(`patrol.result.${check.result}`)}` : "");
  }));
  const head = h("h2", {}, `${t("patrol.title")} · ${run.plan_name}`);
  if (run.state !== "in_progress" || !next) {
    replace(view, h("section", { class: "card patrol-run", dataset: { state: run.state } }, head, steps, run.state === "in_progress" ? finishButton(view, run) : h("p", {}, t("patrol.finished")), back));
    return;
  }
  const n = run.cameras.indexOf(next) + 1;
  const note = h("textarea", { name: "note", rows: 2, maxlength: 500, placeholder: t("patrol.note") });
  const mark = async (result, event) => {
    if (result === "problem" && !note.value.trim()) {
      note.focus();
      toast(t("patrol.say_what"), "error");
      return;
    }
    const buttons = event.target.closest(".actions").querySelectorAll("button");
    for (const b of buttons) b.disabled = true; // one click, one check
    try {
      await api(`/patrols/runs/${encodeURIComponent(run.id)}/checks`, { method: "POST", body: { ...next, result, note: note.value.trim() } });
      renderPatrolRun(view, run.id);
    } catch (error) {
      for (const b of buttons) b.disabled = false;
      toastFailure(error);
    }
  };
  replace(
    view,
    h(
      "section",
      { class: "card patrol-run", dataset: { state: run.state, camera: next.device_id } },
      head,
      h("p", { class: "step" }, t("patrol.step", { n, total: run.cameras.length, camera: cameraLabel(next) })),
      liveView(next.school_id, next.device_id, { open: true }),
      note,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: (e) => mark("normal", e) }, t("patrol.normal")),
        h("button", { type: "button", class: "danger", onclick: (e) => mark("problem", e) }, t("patrol.problem")),
      ),
      steps,
      back,
    ),
  );
}

function finishButton(view, run) {
  const finish = async () => {
    try {
      await api(`/patrols/runs/${encodeURIComponent(run.id)}/finish`, { method: "POST" });
      toast(t("patrol.completed"));
      location.hash = "#/patrol";
    } catch (error) {
      toastFailure(error);
    }
  };
  return h("button", { type: "button", class: "primary", onclick: finish }, t("patrol.finish"));
}

// hipdx case page: a form built from GET /v1/model, a result from POST /v1/diagnosis on every change.
// A plain ES module, no build step and no dependency. Data is put in the page with textContent only.

const LEVELS = {
  emergency: { word: "EMERGENCY", icon: "⚠" },
  urgent: { word: "URGENT", icon: "⚠" },
  see_clinician: { word: "SEE A CLINICIAN", icon: "ℹ" },
  self_care: { word: "SELF-CARE", icon: "✓" },
};
const GROUP_TITLES = {
  red_flags: "Red flags (ask these first)",
  demographics: "The runner",
  training: "Training",
  location: "Where it hurts",
  timing: "When it hurts",
  aggravators: "What makes it worse",
  signs: "Signs",
};
const GROUP_FIRST = ["red_flags"]; // screening first; the other groups in the model's order
const STATE_WORDS = {
  under_30: "under 30", "30_39": "30–39", "40_49": "40–49", "50_plus": "50 or over",
  under_2: "under 2", "2_plus": "2 or more", up_to_13_5: "up to 13.5", over_13_5: "over 13.5",
};
const NOT_ASKED = "";

const state = {
  model: null, // GET /v1/model
  variables: {}, // id -> variable
  numericOf: {}, // numeric field (age, ...) -> variable id
  linked: {}, // answers from the link that the form cannot show (kept and sent)
  seq: 0,
  timer: null,
  apiKey: sessionStorage.getItem("hipdx-api-key") || "",
};

// ------------------------------------------------------------------ DOM helpers
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "style") Object.assign(el.style, v); // CSSOM, allowed by the page's CSP (style attributes are not)
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (id) => document.getElementById(id);
const pct = (p) => `${(100 * p).toFixed(p < 0.1 && p > 0 ? 1 : 0)}%`;
const words = (s) => STATE_WORDS[s] || String(s).replaceAll("_", " ");
const signed = (x) => `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(1)} points`;

// ------------------------------------------------------------------ API
async function api(path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.apiKey) headers["X-API-Key"] = state.apiKey;
  const resp = await fetch(path, { method: body === undefined ? "GET" : "POST", headers,
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await resp.json().catch(() => ({ detail: `the server answered ${resp.status}` }));
  if (!resp.ok) {
    const err = new Error(data.detail || data.title || `HTTP ${resp.status}`);
    err.status = resp.status;
    err.problem = data;
    throw err;
  }
  return data;
}

// ------------------------------------------------------------------ the form
function buildForm(model) {
  const form = $("case-form");
  form.replaceChildren();
  const groups = new Map();
  for (const v of model.variables) {
    if (!groups.has(v.group)) groups.set(v.group, []);
    groups.get(v.group).push(v);
  }
  const order = [...GROUP_FIRST.filter((g) => groups.has(g)), ...[...groups.keys()].filter((g) => !GROUP_FIRST.includes(g))];
  for (const g of order) {
    const section = h("section", { class: `group group-${g}`, "aria-labelledby": `group-${g}` },
      h("h3", { id: `group-${g}`, text: GROUP_TITLES[g] || words(g) }));
    for (const v of groups.get(g)) section.append(v.numeric ? numberQuestion(v) : choiceQuestion(v));
    form.append(section);
  }
}

function choiceQuestion(v) {
  const fs = h("fieldset", { id: `q-${v.id}`, class: "question", "data-variable": v.id },
    h("legend", { text: v.question }));
  const opts = h("div", { class: "options" });
  for (const s of [...v.states, NOT_ASKED]) {
    const id = `q-${v.id}-${s || "not-asked"}`;
    opts.append(h("span", { class: "option" },
      h("input", { type: "radio", name: v.id, id, value: s, checked: s === NOT_ASKED }),
      h("label", { for: id, text: s === NOT_ASKED ? "not asked" : words(s) })));
  }
  fs.append(opts);
  return fs;
}

function numberQuestion(v) {
  const n = v.numeric;
  state.numericOf[n.field] = v.id;
  const id = `q-${v.id}-number`;
  const hint = `${n.min}–${n.max} ${n.unit}; empty = not asked`;
  return h("div", { id: `q-${v.id}`, class: "question", "data-variable": v.id, "data-field": n.field },
    h("label", { for: id, class: "legend", text: v.question }),
    h("div", { class: "options" },
      h("input", { type: "number", id, name: n.field, min: n.min, max: n.max, step: "any", inputmode: "decimal",
        "aria-describedby": `${id}-hint` }),
      h("span", { id: `${id}-hint`, class: "hint", text: hint })));
}

function readForm() {
  const evidence = { ...state.linked };
  for (const v of state.model.variables) {
    if (v.numeric) {
      const raw = $(`q-${v.id}-number`).value.trim();
      if (raw !== "") {
        delete evidence[v.id];
        evidence[v.numeric.field] = Number(raw);
      }
    } else {
      const checked = document.querySelector(`input[name="${v.id}"]:checked`);
      if (checked && checked.value !== NOT_ASKED) evidence[v.id] = checked.value;
    }
  }
  return evidence;
}

function setChoice(variable, value) {
  const input = document.querySelector(`input[name="${variable}"][value="${CSS.escape(String(value))}"]`);
  if (!input) return false;
  input.checked = true;
  return true;
}

function fillForm(evidence) {
  state.linked = {};
  for (const [k, raw] of Object.entries(evidence)) {
    if (raw === null || raw === "unknown") continue;
    if (k in state.numericOf && typeof raw === "number") $(`q-${state.numericOf[k]}-number`).value = String(raw);
    else if (k in state.numericOf && raw !== "" && !Number.isNaN(Number(raw))) $(`q-${state.numericOf[k]}-number`).value = String(raw);
    else if (!(k in state.variables) || !setChoice(k, raw)) state.linked[k] = raw; // kept, sent, shown
  }
  showLinked();
}

function showLinked() {
  const box = $("linked");
  const keys = Object.keys(state.linked);
  box.hidden = keys.length === 0;
  box.replaceChildren();
  if (!keys.length) return;
  box.append(h("p", { text: "Answers from the link that the form shows differently (sent as they are):" }));
  const ul = h("ul");
  for (const k of keys) {
    ul.append(h("li", {}, h("code", { text: `${k}: ${JSON.stringify(state.linked[k])}` }), " ",
      h("button", { type: "button", "aria-label": `Remove ${k} from the answers`, text: "remove",
        onclick: () => { delete state.linked[k]; showLinked(); onAnswer(); } })));
  }
  box.append(ul);
}

// after an answer, the form shows the answers as the model understood them (e.g. true -> present)
function syncFromUnderstood(understood) {
  for (const [k, s] of Object.entries(understood || {})) {
    if (k in state.linked && state.variables[k] && !state.variables[k].numeric && setChoice(k, s)) delete state.linked[k];
  }
  showLinked();
}

function clearForm() {
  state.linked = {};
  $("case-form").reset();
  showLinked();
  onAnswer();
}

// ------------------------------------------------------------------ asking the model
function onAnswer() {
  clearTimeout(state.timer);
  state.timer = setTimeout(diagnose, 120);
}

async function diagnose() {
  const evidence = readForm();
  const seq = ++state.seq;
  updateUrl(evidence);
  $("busy").textContent = "Updating…";
  document.body.setAttribute("aria-busy", "true");
  try {
    const { body, dropped } = await diagnoseReadable(evidence);
    if (seq !== state.seq) return; // a newer answer is on its way
    $("error").hidden = true;
    render(body);
    syncFromUnderstood(body.evidence);
    if (dropped.length) showError(dropped[0].error, dropped);
  } catch (err) {
    if (seq !== state.seq) return;
    clearResult();
    showError(err);
  } finally {
    if (seq === state.seq) {
      $("busy").textContent = "";
      document.body.setAttribute("aria-busy", "false");
    }
  }
}

// An answer the model cannot read is left out (and named) so that the rest, red flags above all,
// still give a result; the dropped answers stay in the form and the link.
async function diagnoseReadable(evidence) {
  const answers = { ...evidence };
  const dropped = [];
  for (;;) {
    try {
      return { body: await api("/v1/diagnosis", { evidence: answers }), dropped };
    } catch (err) {
      const field = err.problem?.field;
      if (err.status !== 400 || !field || !(field in answers)) throw err;
      dropped.push({ field, error: err });
      delete answers[field];
    }
  }
}

function clearResult() {
  for (const id of ["triage", "outside", "explanations", "conditions", "next"]) $(id).replaceChildren();
  $("triage").className = "banner";
  delete $("triage").dataset.key;
  $("summary-text").textContent = "";
}

function showError(err, dropped = []) {
  const box = $("error");
  box.hidden = false;
  const p = err.problem || {};
  const [detail, allowed] = err.message.split("; allowed: ");
  box.replaceChildren(h("strong", { text: "The model could not read the answers: " }), detail);
  if (p.suggestion) box.append(` (did you mean ${p.suggestion}?)`);
  if (allowed) box.append(h("details", {}, h("summary", { text: "allowed values" }), allowed));
  if (p.field && document.getElementById(`q-${p.field}`)) {
    box.append(" ", h("a", { href: `#q-${p.field}`, text: "Go to that question" }));
  }
  if (dropped.length) {
    box.append(h("p", { text: `The result below leaves out: ${dropped.map((d) => d.field).join(", ")}.` }));
  }
  if (err.status === 401) askForKey(box);
  // a red flag among the answers that can be read is shown even when the request is refused
  const flags = (p.red_flags || p.triage?.red_flags || []);
  if (flags.length) box.append(h("p", { text: `Red flags in the answers: ${flags.map((f) => f.reason || f.id || f).join("; ")}` }));
}

function askForKey(box) {
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off" });
  box.append(h("p", {}, h("label", { for: "api-key", text: "This server needs an API key: " }), input, " ",
    h("button", { type: "button", text: "Use key", onclick: () => {
      state.apiKey = input.value.trim();
      sessionStorage.setItem("hipdx-api-key", state.apiKey);
      start();
    } })));
}

function updateUrl(evidence) {
  const url = new URL(window.location.href);
  if (Object.keys(evidence).length) url.searchParams.set("evidence", JSON.stringify(evidence));
  else url.searchParams.delete("evidence");
  history.replaceState(null, "", url);
}

// ------------------------------------------------------------------ the result
function render(body) {
  renderTriage(body);
  renderOutside(body.outside_population);
  renderExplanations(body.explanations);
  renderConditions(body);
  renderNext(body.next_questions || []);
  $("summary-text").textContent = body.summary?.text ? `In short: ${body.summary.text}` : "";
  $("model-version").textContent = body.model?.version || $("model-version").textContent;
}

function cite(item) {
  // a source by its title, with the quote (or the reason for an assumption)
  if (!item.title && !item.source) return [];
  const parts = [h("cite", { title: item.source || "", text: item.title || item.source })];
  if (item.quote) parts.push(": ", h("q", { text: item.quote }));
  else if (item.reason && item.kind === "assumption") parts.push(": ", h("span", { class: "reason", text: `assumption: ${item.reason}` }));
  return [h("span", { class: "citation" }, "(source: ", ...parts, ")")];
}

function renderTriage(body) {
  const t = body.triage || {};
  const s = body.summary || {};
  const level = t.level ?? null;
  const info = LEVELS[level] || { word: "NOT RATED", icon: "…" };
  const box = $("triage");
  // re-rendered (and so announced by screen readers) only when what it says changes
  const key = JSON.stringify([t, s.triage_label]);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.className = `banner level-${level || "none"}`;
  box.dataset.level = level || "none";
  const title = h("p", { class: "banner-title" },
    h("span", { class: "icon", "aria-hidden": "true", text: info.icon }), " ",
    h("strong", { class: "banner-level", text: info.word }), " ",
    h("span", { class: "banner-label", text: s.triage_label || "" }),
    t.provisional ? h("span", { class: "provisional", text: " (provisional)" }) : null);
  const children = [title];
  const reasons = (t.reasons || []).length ? t.reasons : [];
  if (reasons.length) {
    children.push(h("ul", { class: "reasons" }, reasons.map((r) => h("li", {}, r.reason || r.rule, " ", ...cite(r)))));
  }
  if ((t.red_flags || []).length) {
    children.push(h("p", { class: "flags-title", text: "Red flags:" }));
    children.push(h("ul", { class: "red-flags" }, t.red_flags.map((f) =>
      h("li", { "data-flag": f.id }, h("strong", { text: words(f.id) }), ": ", f.reason, " ", ...cite(f)))));
  }
  if ((t.open_questions || []).length) {
    children.push(h("p", {}, "To settle the triage, ask: ",
      ...t.open_questions.map((q, i) => [i ? ", " : "", jumpButton(q, state.variables[q]?.question || words(q))])));
  }
  box.replaceChildren(...children);
}

function renderOutside(outside) {
  const box = $("outside");
  box.replaceChildren();
  if (outside && outside.reason) {
    box.append(h("p", { class: "outside", role: "note" }, h("strong", { text: "Outside the model's population: " }), outside.reason));
  }
}

function conditionName(id) {
  return state.model.conditions.find((c) => c.id === id)?.name || words(id);
}

function renderExplanations(explanations) {
  const box = $("explanations");
  box.replaceChildren();
  if (!explanations || !explanations.length) return;
  box.append(h("h3", { id: "explanations-title", text: "Most likely explanations (conditions together)" }));
  const ol = h("ol", { class: "explanations", "aria-labelledby": "explanations-title" });
  for (const e of explanations.slice(0, 5)) {
    const names = (e.present || []).map(conditionName);
    ol.append(h("li", {}, h("span", { class: "num", text: pct(e.probability) }), " ",
      names.length ? names.join(" + ") : "none of the conditions in the model"));
  }
  box.append(ol);
}

function renderConditions(body) {
  const ol = $("conditions");
  const open = new Set([...ol.querySelectorAll("button[aria-expanded=true]")].map((b) => b.dataset.condition));
  ol.replaceChildren();
  for (const c of body.conditions) {
    const whyId = `why-${c.id}`;
    const interval = c.interval ? ` (${pct(c.interval[0])}–${pct(c.interval[1])})` : "";
    const label = `${pct(c.probability)}${interval} · before the answers ${pct(c.prior)}`;
    const bar = h("div", { class: "bar", "aria-hidden": "true" },
      h("div", { class: "fill", style: { width: `${(100 * c.probability).toFixed(2)}%` } }),
      c.interval ? h("div", { class: "range", style: { left: `${(100 * c.interval[0]).toFixed(2)}%`,
        width: `${(100 * (c.interval[1] - c.interval[0])).toFixed(2)}%` } }) : null,
      h("div", { class: "prior", title: "before the answers", style: { left: `${(100 * c.prior).toFixed(2)}%` } }));
    const isOpen = open.has(c.id);
    const button = h("button", { type: "button", class: "cond-name", "aria-expanded": String(isOpen), "aria-controls": whyId,
      "data-condition": c.id, onclick: (e) => toggleWhy(e.currentTarget) }, h("span", { "aria-hidden": "true", class: "chev", text: "▸" }), " ", c.name);
    const why = h("div", { id: whyId, class: "why", hidden: !isOpen }, whyTable(c));
    ol.append(h("li", { class: "condition", "data-condition": c.id },
      h("div", { class: "cond-head" }, button, h("span", { class: "num", text: label })), bar, why));
  }
}

function toggleWhy(button) {
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  $(button.getAttribute("aria-controls")).hidden = !open;
}

function whyTable(c) {
  const items = (c.evidence || []).filter((e) => Math.abs(e.effect) >= 0.0005);
  if (!c.evidence) return h("p", { class: "hint", text: "Why: not computed (reasoning off)." });
  if (!items.length) return h("p", { class: "hint", text: "No answer moved this condition by 0.1 point or more." });
  const rows = items.map((e) => h("tr", {},
    h("th", { scope: "row" }, state.variables[e.variable]?.question || words(e.variable), h("br"),
      h("span", { class: "answer", text: `answer: ${words(e.state)}` })),
    h("td", { class: `num ${e.effect >= 0 ? "up" : "down"}` }, h("span", { "aria-hidden": "true", text: e.effect >= 0 ? "▲ " : "▼ " }), signed(e.effect)),
    h("td", { class: "num", text: e.likelihood_ratio !== undefined ? `×${e.likelihood_ratio}` : "–" }),
    h("td", {}, (e.sources || []).length
      ? h("ul", { class: "sources" }, e.sources.map((s) => h("li", {}, ...cite(s))))
      : h("span", { class: "hint", text: e.link === "indirect" ? "indirect (through other conditions)" : "" }))));
  return h("table", {},
    h("caption", { text: `Why: the answers that moved ${c.name}` }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "answer" }), h("th", { scope: "col", text: "moved it by" }),
      h("th", { scope: "col", text: "odds ×" }), h("th", { scope: "col", text: "source" }))),
    h("tbody", {}, rows));
}

function jumpButton(variable, text) {
  return h("button", { type: "button", class: "jump", "data-variable": variable, text, onclick: () => focusQuestion(variable) });
}

function focusQuestion(variable) {
  const q = $(`q-${variable}`);
  if (!q) return;
  const target = q.querySelector("input:checked") || q.querySelector("input");
  q.scrollIntoView({ block: "center" });
  q.classList.add("asked");
  setTimeout(() => q.classList.remove("asked"), 2000);
  target.focus();
}

function renderNext(questions) {
  const box = $("next");
  box.replaceChildren();
  if (!questions.length) {
    box.append(h("p", { class: "hint", text: "Nothing left worth asking." }));
    return;
  }
  const ol = h("ol", { class: "next" });
  for (const q of questions) {
    ol.append(h("li", {}, jumpButton(q.variable, q.question),
      q.reason ? h("span", { class: "hint", text: ` ${q.reason}` }) : null));
  }
  box.append(ol);
}

// ------------------------------------------------------------------ start
function evidenceFromUrl() {
  const raw = new URLSearchParams(window.location.search).get("evidence");
  if (!raw) return {};
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error("the link's evidence is not valid JSON (expected ?evidence={\"variable\": \"state\", ...})");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("the link's evidence must be a JSON object of answers (variable: state)");
  }
  return parsed;
}

async function start() {
  try {
    state.model = await api("/v1/model");
  } catch (err) {
    $("form-status").textContent = "The questions could not be loaded.";
    showError(err);
    return;
  }
  for (const v of state.model.variables) state.variables[v.id] = v;
  $("model-version").textContent = state.model.model.version;
  buildForm(state.model);
  try {
    fillForm(evidenceFromUrl());
  } catch (err) {
    showError(err);
  }
  diagnose();
}

$("case-form").addEventListener("change", onAnswer);
$("case-form").addEventListener("input", (e) => { if (e.target.type === "number") onAnswer(); });
$("clear").addEventListener("click", clearForm);
$("copy-link").addEventListener("click", async () => {
  const status = $("copy-status");
  try {
    await navigator.clipboard.writeText(window.location.href);
    status.textContent = "Link copied.";
  } catch {
    status.textContent = `Copy this link: ${window.location.href}`;
  }
});
start();

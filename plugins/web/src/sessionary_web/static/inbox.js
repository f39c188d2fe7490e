// The inbox's writes: rename, "name it", and approvals. Every stored string is set with
// textContent, never as HTML. POSTs carry the page's CSRF token.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function apiUrl(path) {
  // The API lives beside the pages, wherever the app is mounted.
  return document.body.dataset.api + path;
}

async function post(path, body) {
  const response = await fetch(apiUrl(path), {
    method: "POST",
    credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrfToken()},
    body: JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const error = (data && data.error) || {code: "error", message: response.statusText};
    const failure = new Error(error.message);
    failure.code = error.code;
    throw failure;
  }
  return data;
}

function toast(text) {
  const box = document.getElementById("toast");
  if (box) { box.textContent = text; }
}

function setupSession() {
  const head = document.querySelector(".session-head");
  if (!head) { return; }
  const sessionId = head.dataset.sessionId;
  const title = document.getElementById("session-name");
  const form = document.getElementById("rename-form");
  const input = document.getElementById("rename-input");
  const source = document.getElementById("name-source");
  const show = (info) => {
    title.textContent = info.name || "Unnamed session";
    title.classList.toggle("unnamed", !info.name);
    source.textContent = info.name_source || "—";
    input.value = info.name || "";
    document.title = (info.name || sessionId) + " · " + document.title.split(" · ").pop();
  };
  const closeForm = () => { form.hidden = true; title.hidden = false; };
  document.getElementById("rename-button").addEventListener("click", () => {
    form.hidden = false; title.hidden = true; input.focus(); input.select();
  });
  document.getElementById("rename-cancel").addEventListener("click", closeForm);
  input.addEventListener("keydown", (event) => { if (event.key === "Escape") { closeForm(); } });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      show(await post("rename", {session_id: sessionId, name: input.value}));
      closeForm();
      toast("Renamed.");
    } catch (error) { toast("Not renamed: " + error.message); }
  });
  const autoname = document.getElementById("autoname-button");
  autoname.addEventListener("click", async () => {
    autoname.disabled = true;
    try {
      show(await post("autoname", {session_id: sessionId}));
      toast("Named.");
    } catch (error) { toast("Not named: " + error.message); }
    autoname.disabled = false;
  });
}

function answersOf(form) {
  const answers = [];
  for (const fieldset of form.querySelectorAll("fieldset.requirement")) {
    const id = fieldset.dataset.requirementId;
    const decision = fieldset.querySelector('input[type="radio"]:checked').value;
    const note = fieldset.querySelector('input[name="note"]').value;
    if (decision === "reject") {
      answers.push({id: id, action: "reject", note: note});
    } else if (fieldset.dataset.kind === "user_input") {
      const values = {};
      for (const field of fieldset.querySelectorAll("input[data-field]")) {
        values[field.dataset.field] = field.value;
      }
      answers.push({id: id, action: "input", values: values});
    } else if (fieldset.dataset.kind === "external_execution") {
      answers.push({id: id, action: "result", result: fieldset.querySelector("textarea").value});
    } else {
      answers.push({id: id, action: "confirm"});
    }
  }
  return answers;
}

function setupApprovals() {
  for (const form of document.querySelectorAll("form.approval")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button.continue");
      const outcome = form.querySelector("output.outcome");
      button.disabled = true;
      form.dataset.state = "sending";
      outcome.textContent = "Continuing…";
      try {
        const run = await post("continue", {
          session_id: form.dataset.sessionId, run_id: form.dataset.runId, answers: answersOf(form),
        });
        for (const fieldset of form.querySelectorAll("fieldset")) { fieldset.disabled = true; }
        if (run.status === "paused") {
          outcome.textContent = "Paused again: reload to answer what it asks now.";
        } else {
          outcome.textContent = run.status + ": " + (run.content || run.error || "");
        }
        form.dataset.state = run.status;
      } catch (error) {
        if (error.code === "conflict") {
          outcome.textContent = "Already continued by someone else: " + error.message;
          for (const fieldset of form.querySelectorAll("fieldset")) { fieldset.disabled = true; }
          form.dataset.state = "conflict";
        } else {
          outcome.textContent = "Failed: " + error.message;
          button.disabled = false;
          form.dataset.state = "failed";
        }
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupSession();
  setupApprovals();
  document.body.dataset.ready = "1";
});

// Project Q&A: list, ask (optionally anonymous), upvote, and the author's answers. Updates arrive by polling the
// posters API every few seconds while the page is visible (no push channel for project pages). Every piece of text
// goes into the page with textContent, never as HTML, so markup in a question stays inert.
"use strict";

(function () {
  const drafts = new Map(); // question id -> answer being typed, kept across refreshes
  const seen = new Set(); // question ids already shown (to announce new ones once)
  let state = { canAnswer: false, canAsk: false };
  let first = true;
  let timer = null;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function when(iso) {
    try {
      return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    } catch (e) {
      return iso;
    }
  }

  function announce(text) {
    const node = document.getElementById("qa-announcer");
    if (node) node.textContent = text;
  }

  function signature(q) {
    return JSON.stringify([q.text, q.asker, q.upvotes, q.upvoted, q.answer, q.can_delete, state.canAnswer]);
  }

  function render(q) {
    const item = el("li", { class: "qa-item", id: `question-${q.id}`, "data-id": String(q.id) });
    item.dataset.signature = signature(q);
    const vote = el("div", { class: "qa-vote" });
    const button = el("button", {
      type: "button",
      class: "button button-secondary button-small qa-upvote",
      "aria-pressed": q.upvoted ? "true" : "false",
      "aria-label": `Upvote (${q.upvotes})`,
    });
    button.textContent = `▲ ${q.upvotes}`;
    button.addEventListener("click", () => vote_(q, button));
    vote.append(button);
    const body = el("div", { class: "qa-body" });
    item.append(vote, body);
    body.append(el("p", { class: "qa-text" }, q.text));
    const who = q.asker ? q.asker.name + (q.anonymous ? " (anonymous to others)" : "") : "Anonymous";
    body.append(el("p", { class: "qa-meta muted" }, `${who} · ${when(q.asked_at)}`));
    if (q.answer) {
      const answer = el("div", { class: "qa-answer" });
      answer.append(el("strong", {}, "Answer: "));
      answer.append(document.createTextNode(q.answer));
      body.append(answer);
    }
    if (state.canAnswer) body.append(answerForm(q));
    if (q.can_delete) {
      const remove = el("button", { type: "button", class: "link-button qa-delete" }, "Delete question");
      remove.addEventListener("click", () => delete_(q, remove));
      body.append(remove);
    }
    return item;
  }

  function answerForm(q) {
    const form = el("form", { class: "qa-answer-form", novalidate: "" });
    const id = `qa-answer-${q.id}`;
    form.append(el("label", { for: id }, q.answer ? "Edit your answer" : "Your answer"));
    const box = el("textarea", { id, rows: "2", maxlength: "4000" });
    box.value = drafts.get(q.id) ?? "";
    box.addEventListener("input", () => drafts.set(q.id, box.value));
    const error = el("p", { class: "field-error", role: "alert", hidden: "" });
    const submit = el("button", { type: "submit", class: "button button-small" }, q.answer ? "Save answer" : "Answer");
    form.append(box, error, submit);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      try {
        await window.insightApi(`/api/v1/questions/${q.id}/answer`, {
          method: "PUT",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ text: box.value }),
        });
        drafts.delete(q.id);
        announce("Answer saved.");
        await refresh(true);
      } catch (e) {
        error.hidden = false;
        error.textContent = window.insightPage.sentence(e.message);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  async function delete_(q, button) {
    button.disabled = true;
    try {
      await window.insightApi(`/api/v1/questions/${q.id}`, { method: "DELETE" });
      announce("Question deleted.");
      await refresh(true);
    } catch (e) {
      button.disabled = false;
      announce(window.insightPage.sentence(e.message));
    }
  }

  async function vote_(q, button) {
    button.disabled = true;
    try {
      await window.insightApi(`/api/v1/questions/${q.id}/upvote`, { method: q.upvoted ? "DELETE" : "POST" });
      await refresh(true);
    } catch (e) {
      announce(window.insightPage.sentence(e.message));
    } finally {
      button.disabled = false;
    }
  }

  function apply(data) {
    state = { canAnswer: data.can_answer, canAsk: data.can_ask };
    const list = document.getElementById("qa-list");
    const form = document.getElementById("qa-ask");
    form.hidden = !state.canAsk;
    document.getElementById("qa-loading").hidden = true;
    document.getElementById("qa-empty").hidden = data.items.length > 0;
    const existing = new Map(Array.from(list.children).map((n) => [Number(n.dataset.id), n]));
    const active = document.activeElement;
    const fresh = [];
    data.items.forEach((q, index) => {
      let node = existing.get(q.id);
      const busy = node && node.contains(active) && active.tagName === "TEXTAREA"; // do not disturb typing
      if (!node || (!busy && node.dataset.signature !== signature(q))) {
        const made = render(q);
        if (node) node.replaceWith(made);
        node = made;
      }
      existing.delete(q.id);
      if (list.children[index] !== node && !busy) list.insertBefore(node, list.children[index] || null);
      if (!seen.has(q.id)) {
        seen.add(q.id);
        if (!first) fresh.push(q);
      }
    });
    existing.forEach((node) => node.remove());
    if (fresh.length) announce(fresh.length === 1 ? `New question: ${fresh[0].text}` : `${fresh.length} new questions`);
    first = false;
  }

  async function refresh(now) {
    const panel = document.getElementById("qa");
    if (!panel || (!now && document.visibilityState === "hidden")) return;
    try {
      apply(await window.insightApi(panel.dataset.source));
    } catch (e) {
      document.getElementById("qa-loading").textContent = "Questions cannot be shown right now.";
    }
  }

  function initAsk() {
    const form = document.getElementById("qa-ask");
    const text = document.getElementById("qa-text");
    const error = document.getElementById("qa-error");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await window.insightApi(document.getElementById("qa").dataset.source, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ text: text.value, anonymous: document.getElementById("qa-anonymous").checked }),
        });
        text.value = "";
        announce("Question sent.");
        await refresh(true);
      } catch (e) {
        error.hidden = false;
        error.textContent = window.insightPage.sentence(e.message);
        text.focus();
      } finally {
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const panel = document.getElementById("qa");
    if (!panel) return;
    initAsk();
    refresh(true);
    const every = Number(panel.dataset.pollMs) || 3000;
    timer = window.setInterval(() => refresh(false), every);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refresh(true);
    });
    window.addEventListener("pagehide", () => window.clearInterval(timer));
  });
})();

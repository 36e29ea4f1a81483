// My profile, People and My contacts pages. Every change calls the public /api/v1 with the CSRF header
// (window.insightApi from app.js); data goes into the page with textContent only, never as HTML.
"use strict";

(function () {
  const { reloadWith, showFlash, sentence } = window.insightPage; // app.js

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const lines = (s) => s.split(/\r?\n/).map((x) => x.trim()).filter(Boolean);

  // ---- errors next to the field the API names ("tools.value.2" -> the tools box) --------------------------------
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((f) => f.classList.remove("field-error"));
    form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
    form.querySelectorAll(".js-error").forEach((e) => {
      const input = form.querySelector(`[aria-describedby~="${CSS.escape(e.id)}"]`);
      if (input) {
        const rest = input.getAttribute("aria-describedby").split(" ").filter((x) => x && x !== e.id);
        if (rest.length) input.setAttribute("aria-describedby", rest.join(" "));
        else input.removeAttribute("aria-describedby");
      }
      e.remove();
    });
    const alert = form.querySelector(".form-alert");
    alert.hidden = true;
    alert.replaceChildren();
  }

  function inputFor(form, field) {
    if (!field) return null;
    const [name, part] = String(field).split(".");
    if (part === "visibility") return form.querySelector(`input[name="${CSS.escape(name)}-visibility"]`);
    return form.querySelector(`[name="${CSS.escape(name)}"]`);
  }

  function showError(form, err) {
    const alert = form.querySelector(".form-alert");
    const field = err.body?.error?.field || null;
    const input = inputFor(form, field);
    const message = sentence(err.message);
    alert.replaceChildren(el("p", {}, input ? "Please check the form: " + message : message));
    alert.hidden = false;
    if (!input) {
      alert.focus();
      return;
    }
    const holder = input.closest(".field") || input.closest("fieldset");
    holder.classList.add("field-error");
    const id = `${input.id || input.name}-error`;
    holder.append(el("p", { class: "error js-error", id }, message));
    input.setAttribute("aria-invalid", "true");
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== id);
    input.setAttribute("aria-describedby", [...described, id].join(" "));
    input.focus();
  }

  // ---- my profile -------------------------------------------------------------------------------------------------
  function profileBody(form) {
    const body = {};
    form.querySelectorAll(".profile-field").forEach((row) => {
      const input = row.querySelector("[name]:not([type=radio])");
      const chosen = row.querySelector("input[type=radio]:checked");
      const part = { value: input.dataset.list ? lines(input.value) : input.value };
      if (chosen) part.visibility = chosen.value;
      body[input.name] = part;
    });
    return body;
  }

  function initProfile() {
    const form = document.getElementById("profile-form");
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        await window.insightApi(form.dataset.action, {
          method: "PUT",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(profileBody(form)),
        });
        reloadWith("Your profile is saved.");
      } catch (err) {
        button.disabled = false;
        showError(form, err);
      }
    });
    const withdraw = document.getElementById("withdraw-all");
    withdraw?.addEventListener("click", async () => {
      clearErrors(form);
      withdraw.disabled = true;
      const body = {};
      withdraw.dataset.fields.split(" ").forEach((name) => (body[name] = { visibility: "nobody" }));
      try {
        await window.insightApi(withdraw.dataset.action, {
          method: "PUT",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        reloadWith("Every field is now hidden: nobody sees anything but your name.");
      } catch (err) {
        withdraw.disabled = false;
        showError(form, Object.assign(err, { body: null }));
      }
    });
  }

  // ---- ask to connect ---------------------------------------------------------------------------------------------
  function initConnect() {
    document.querySelectorAll("form.connect-form").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearErrors(form);
        const message = form.elements.message;
        if (!message.value.trim()) {
          showError(form, { message: "Write a short message first.", body: { error: { field: "message" } } });
          return;
        }
        const button = form.querySelector('button[type="submit"]');
        button.disabled = true;
        try {
          await window.insightApi(form.dataset.action, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ message: message.value }),
          });
          const sent = el("p", { class: "pill", tabindex: "-1" }, "Request sent");
          form.closest(".person-contact").replaceChildren(sent);
          sent.focus();
          const status = document.getElementById("page-status");
          if (status) {
            status.hidden = false;
            status.textContent = "Your request was sent.";
          }
        } catch (err) {
          button.disabled = false;
          showError(form, err);
        }
      });
    });
  }

  // ---- accept / decline -------------------------------------------------------------------------------------------
  function initAnswers() {
    document.querySelectorAll("button[data-answer]").forEach((button) => {
      button.addEventListener("click", async () => {
        button.closest(".request-answer").querySelectorAll("button").forEach((b) => (b.disabled = true));
        try {
          await window.insightApi(button.dataset.answer, { method: "POST" });
          reloadWith(button.dataset.done);
        } catch (err) {
          reloadWith(sentence(err.message) + ".");
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    showFlash();
    initProfile();
    initConnect();
    initAnswers();
  });
})();

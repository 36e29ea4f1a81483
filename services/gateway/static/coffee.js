// The Coffee page: opt in or out, accept or ask for someone else, and for organisers create a round and run the
// pairing. Every change calls the public /api/v1 with the CSRF header (window.insightApi from app.js); the page
// then reloads to show the server's state. Data goes into the page with textContent only.
"use strict";

(function () {
  const { reloadWith, showFlash, sentence } = window.insightPage; // app.js

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // "2026-12-01T10:00" read in `timeZone` -> ISO-8601 in UTC (as the set-up page does).
  function zoneOffsetMinutes(instant, timeZone) {
    const parts = new Intl.DateTimeFormat("en-GB", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(instant);
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
    return (asUtc - instant.getTime()) / 60000;
  }

  function zonedToIso(value, timeZone) {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
    if (!match) return value; // let the API name the field
    const [, y, mo, d, h, mi] = match.map(Number);
    const guess = Date.UTC(y, mo - 1, d, h, mi);
    let offset = zoneOffsetMinutes(new Date(guess), timeZone);
    offset = zoneOffsetMinutes(new Date(guess - offset * 60000), timeZone);
    return new Date(guess - offset * 60000).toISOString();
  }

  function say(round, message) {
    const box = round.querySelector(".round-message");
    box.classList.add("error");
    box.textContent = message;
  }

  async function send(path, method, body) {
    const options = { method };
    if (body !== undefined) {
      options.headers = { "Content-Type": "application/json" };
      options.body = JSON.stringify(body);
    }
    return window.insightApi(path, options);
  }

  // ---- attendees: join, leave, accept, someone else -------------------------------------------------------------
  function initActions() {
    document.querySelectorAll("button[data-act]").forEach((button) => {
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
          await send(button.dataset.act, button.dataset.method, body);
          reloadWith(button.dataset.done);
        } catch (err) {
          button.disabled = false;
          say(button.closest(".coffee-round"), sentence(err.message) + ".");
        }
      });
    });
  }

  // ---- organisers: run the pairing --------------------------------------------------------------------------------
  function initPairing() {
    document.querySelectorAll("form.pair-form").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = form.querySelector('button[type="submit"]');
        button.disabled = true;
        try {
          const done = await send(form.dataset.action, "POST", {
            accept_lower_share: form.elements.accept_lower_share.checked,
          });
          const run = done.run;
          const share = run.cross_org_share === null ? "" : ` (${Math.round(run.cross_org_share * 100)}%)`;
          reloadWith(
            `Paired ${run.groups} group${run.groups === 1 ? "" : "s"}${run.trios ? ", one of them a trio" : ""}: ` +
              `${run.cross_org_groups} across organisations${share}.`
          );
        } catch (err) {
          button.disabled = false;
          let message = sentence(err.message);
          if (err.body?.error?.code === "min_share_unreachable") {
            message += " Lower the minimum or tick “Pair even if the minimum share cannot be met” to pair anyway.";
          }
          say(form.closest(".coffee-round"), message);
        }
      });
    });
  }

  // ---- organisers: create a round ---------------------------------------------------------------------------------
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((f) => f.classList.remove("field-error"));
    form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
    form.querySelectorAll(".js-error").forEach((e) => e.remove());
    const alert = form.querySelector(".form-alert");
    alert.hidden = true;
    alert.replaceChildren();
  }

  function showError(form, err) {
    const alert = form.querySelector(".form-alert");
    const field = String(err.body?.error?.field || "");
    const input = field ? form.querySelector(`[name="${CSS.escape(field)}"]`) : null;
    const message = sentence(err.message);
    alert.replaceChildren(el("p", {}, input ? "Please check the form: " + message : message));
    alert.hidden = false;
    if (!input || input.closest("[hidden]")) {
      alert.focus();
      return;
    }
    const id = `${input.id}-error`;
    input.closest(".field").classList.add("field-error");
    input.closest(".field").append(el("p", { class: "error js-error", id }, message));
    input.setAttribute("aria-invalid", "true");
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== id);
    input.setAttribute("aria-describedby", [...described, id].join(" "));
    input.focus();
  }

  const numberOr = (text) => (/^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text);

  function initCreate(zone) {
    const form = document.getElementById("round-form");
    if (!form) return;
    const slot = form.elements.slot_id;
    const time = form.querySelector(".coffee-time");
    slot?.addEventListener("change", () => (time.hidden = Boolean(slot.value)));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const share = numberOr(form.elements.min_cross_org_share.value);
      const body = { min_cross_org_share: typeof share === "number" ? share / 100 : share };
      if (slot && slot.value) {
        body.slot_id = Number(slot.value);
      } else {
        body.starts_at = zonedToIso(form.elements.starts_at.value, zone);
        body.minutes = numberOr(form.elements.minutes.value);
      }
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        await send(form.dataset.action, "POST", body);
        reloadWith("Coffee round created.");
      } catch (err) {
        button.disabled = false;
        showError(form, err);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    showFlash();
    initActions();
    initPairing();
    initCreate(document.getElementById("coffee")?.dataset.timezone || "UTC");
  });
})();

// Day set-up (organisers) and registration (attendees) pages. Every change calls the public /api/v1 with the CSRF
// header (window.insightApi from app.js); the page then reloads to show the server's state. Data goes into the page
// with textContent only, never as HTML (the CSP forbids inline scripts).
"use strict";

(function () {
  const { reloadWith, showFlash, sentence } = window.insightPage; // app.js

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const splitComma = (s) => s.split(/[,;]/).map((x) => x.trim()).filter(Boolean);
  const splitLines = (s) => s.split(/\r?\n/).map((x) => x.trim()).filter(Boolean);

  // ---- times: the form shows the event's own zone, the API takes UTC --------------------------------------------
  function zoneOffsetMinutes(instant, timeZone) {
    const parts = new Intl.DateTimeFormat("en-GB", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(instant);
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
    return (asUtc - instant.getTime()) / 60000;
  }

  // "2026-12-01T10:00" read in `timeZone` -> ISO-8601 in UTC.
  function zonedToIso(value, timeZone) {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
    if (!match) return value; // let the API name the field
    const [, y, mo, d, h, mi] = match.map(Number);
    const guess = Date.UTC(y, mo - 1, d, h, mi);
    let offset = zoneOffsetMinutes(new Date(guess), timeZone);
    offset = zoneOffsetMinutes(new Date(guess - offset * 60000), timeZone); // again, across a DST change
    return new Date(guess - offset * 60000).toISOString();
  }

  // ---- form bodies ------------------------------------------------------------------------------------------------
  // Thesaurus text: one theme per line, other names after "=": "machine learning = ML, AI".
  function parseThesaurus(text) {
    return splitLines(text).map((line) => {
      const at = line.indexOf("=");
      if (at < 0) return line;
      return { name: line.slice(0, at).trim(), synonyms: splitComma(line.slice(at + 1)) };
    });
  }

  // A number field: its number, nothing when empty, the text itself otherwise (so the API names the field).
  function wholeNumber(input) {
    const value = input.value.trim();
    if (!value) return null;
    return /^-?\d+$/.test(value) ? Number(value) : value;
  }

  // The timetabling constraints: all sent, an empty choice as null (on an edit that clears it).
  const RULE_SELECTS = ["not_before_slot_id", "not_after_slot_id", "same_slot_as", "not_same_slot_as"];
  function breakoutRules(form) {
    const rules = {};
    RULE_SELECTS.forEach((name) => {
      const value = form.elements[name].value;
      rules[name] = value ? Number(value) : null;
    });
    rules.presenter = form.elements.presenter.value.trim() || null;
    return rules;
  }

  const BODIES = {
    thesaurus: (form) => ({ themes: parseThesaurus(form.elements.themes.value) }),
    deadline: (form, zone) => {
      const value = form.elements.registration_deadline.value;
      return { registration_deadline: value ? zonedToIso(value, zone) : null };
    },
    slot: (form, zone) => ({
      starts_at: zonedToIso(form.elements.starts_at.value, zone),
      ends_at: zonedToIso(form.elements.ends_at.value, zone),
      kind: form.elements.kind.value,
      rooms: wholeNumber(form.elements.rooms), // null: no limit
    }),
    breakout: (form) => {
      const capacity = form.elements.capacity.value.trim();
      const meeting = form.elements.meeting_url.value.trim();
      const slot = form.elements.slot_id.value;
      const body = {
        ...breakoutRules(form),
        slot_id: slot ? Number(slot) : null, // null: the timetable run places it
        title: form.elements.title.value.trim(),
        theme: form.elements.theme.value,
        capacity: /^-?\d+$/.test(capacity) ? Number(capacity) : capacity, // not a number: the API says so
      };
      if (body.slot_id === null && form.dataset.method === "PATCH") delete body.slot_id; // an edit keeps the slot
      if (meeting) body.meeting_url = meeting;
      else if (form.dataset.method === "PATCH") body.meeting_url = null; // emptied: remove the link
      return body;
    },
    registration: (form) => ({
      themes: [...form.querySelectorAll('select[name="themes"]')].map((s) => s.value).filter(Boolean),
      tools: splitComma(form.elements.tools.value),
      interests: splitLines(form.elements.interests.value),
    }),
  };

  const SAVED = {
    thesaurus: "Themes saved.",
    deadline: "Registration deadline saved.",
    slot: "Slot saved.",
    breakout: "Breakout saved.",
    registration: "Your registration is saved.",
  };

  // ---- errors next to the field the API names ------------------------------------------------------------------
  function fieldInput(form, field) {
    if (!field) return null;
    const [name, index] = String(field).split(".");
    const inputs = form.querySelectorAll(`[name="${CSS.escape(name)}"]`);
    if (!inputs.length) return null;
    if (inputs.length > 1 && index !== undefined && inputs[Number(index)]) return inputs[Number(index)];
    return inputs[0];
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((f) => f.classList.remove("field-error"));
    form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
    form.querySelectorAll(".error.js-error").forEach((e) => {
      const input = document.querySelector(`[aria-describedby~="${CSS.escape(e.id)}"]`);
      if (input) {
        const rest = input.getAttribute("aria-describedby").split(" ").filter((x) => x && x !== e.id);
        if (rest.length) input.setAttribute("aria-describedby", rest.join(" "));
        else input.removeAttribute("aria-describedby");
      }
      e.remove();
    });
    const alert = form.querySelector(".form-alert");
    if (alert) {
      alert.hidden = true;
      alert.replaceChildren();
    }
  }

  function describeField(form, field, message) {
    // A thesaurus entry is a line of the textarea: say which.
    const line = /^themes\.(\d+)/.exec(field || "");
    if (form.dataset.kind === "thesaurus" && line) return `Line ${Number(line[1]) + 1}: ${message}`;
    return message;
  }

  function showError(form, err) {
    const alert = form.querySelector(".form-alert");
    const field = err.body?.error?.field || null;
    const input = fieldInput(form, field);
    const message = describeField(form, field, sentence(err.message));
    alert.replaceChildren(el("p", {}, input ? "Please check the form." : message));
    alert.hidden = false;
    if (input) {
      const folded = input.closest("details");
      if (folded) folded.open = true; // a constraint refused: show it
      // Ranked themes: the error belongs to the whole group, shown under its hint.
      const group = input.name === "themes" && input.tagName === "SELECT" ? input.closest("fieldset") : null;
      const holder = group || input.closest(".field");
      holder.classList.add("field-error");
      const id = `${group ? group.id : input.id}-error`;
      const target = group || input;
      const note = el("p", { class: "error js-error", id }, message);
      if (group) group.querySelector(".hint").after(note);
      else holder.append(note);
      input.setAttribute("aria-invalid", "true");
      const described = (target.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== id);
      target.setAttribute("aria-describedby", [...described, id].join(" "));
      input.focus();
    } else {
      alert.focus();
    }
  }

  // ---- sending, with the "already published" question ----------------------------------------------------------
  const withForce = (path) => path + (path.includes("?") ? "&" : "?") + "force=1";

  async function send(path, method, body) {
    const options = { method };
    if (body !== undefined) {
      options.headers = { "Content-Type": "application/json" };
      options.body = JSON.stringify(body);
    }
    try {
      return await window.insightApi(path, options);
    } catch (err) {
      if (err.status !== 409 || err.body?.error?.code !== "published") throw err;
      const go = window.confirm(
        "This day's schedule is already published. After this change the assignment has to be run again. Change it anyway?"
      );
      if (!go) throw Object.assign(new Error("Nothing was changed."), { cancelled: true, body: null });
      return window.insightApi(withForce(path), options);
    }
  }

  function initApiForm(form, zone) {
    const kind = form.dataset.kind;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const missing = [...form.querySelectorAll("[required]")].find((i) => !i.matches(":disabled") && !i.value.trim());
      if (missing) {
        const label = form.querySelector(`label[for="${CSS.escape(missing.id)}"]`);
        const name = (label?.childNodes[0]?.textContent || "This field").trim();
        showError(form, { message: `${name} is required.`, body: { error: { field: missing.name } } });
        return;
      }
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        await send(form.dataset.action, form.dataset.method, BODIES[kind](form, zone));
        reloadWith(SAVED[kind]);
      } catch (err) {
        button.disabled = false;
        showError(form, err);
      }
    });
    form.querySelector("[data-cancel]")?.addEventListener("click", () => leaveEditMode(form));
  }

  // ---- edit mode: a table row's Edit fills the form below the table ---------------------------------------------
  function setMode(form, editing, action) {
    const legend = form.querySelector("legend");
    const submit = form.querySelector('button[type="submit"]');
    legend.textContent = editing ? legend.dataset.edit : legend.dataset.create;
    submit.textContent = editing ? submit.dataset.edit : submit.dataset.create;
    form.querySelector("[data-cancel]").hidden = !editing;
    form.dataset.action = editing ? action : form.dataset.create;
    form.dataset.method = editing ? "PATCH" : "POST";
  }

  // The API cannot take a placed breakout's slot away (only a timetable run moves it): no "let the timetable place
  // it" while editing one.
  function placedMode(form, placed) {
    const open = form.elements.slot_id?.querySelector('option[value=""]');
    const hint = document.getElementById("breakout-slot-hint");
    if (!open || !hint) return;
    open.disabled = placed;
    hint.textContent = placed ? hint.dataset.placed : hint.dataset.create;
  }

  // A breakout cannot be in (or kept out of) its own slot: its own name is not offered while editing it.
  function notItself(form, breakoutId) {
    ["same_slot_as", "not_same_slot_as"].forEach((name) => {
      form.elements[name]?.querySelectorAll("option").forEach((option) => {
        option.disabled = Boolean(breakoutId) && option.value === breakoutId;
      });
    });
  }

  function leaveEditMode(form) {
    clearErrors(form);
    form.reset();
    if (form.dataset.kind === "breakout") {
      placedMode(form, false);
      notItself(form, null);
    }
    setMode(form, false);
    form.closest("section").querySelector("tr.is-editing")?.classList.remove("is-editing");
  }

  function initEditing(root) {
    root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-edit-row]");
      if (!button) return;
      const row = button.closest("tr");
      const section = row.closest("section");
      section.querySelector("tr.is-editing")?.classList.remove("is-editing");
      row.classList.add("is-editing");
      const api = document.getElementById("setup").dataset.api;
      if (button.dataset.editRow === "slot") {
        const form = document.getElementById("slot-form");
        clearErrors(form);
        form.elements.starts_at.value = row.dataset.starts;
        form.elements.ends_at.value = row.dataset.ends;
        form.elements.kind.value = row.dataset.kind;
        form.elements.rooms.value = row.dataset.rooms;
        setMode(form, true, `${api}/slots/${row.dataset.slotId}`);
        form.elements.starts_at.focus();
      } else {
        const form = document.getElementById("breakout-form");
        clearErrors(form);
        form.elements.slot_id.value = row.dataset.slot;
        form.elements.theme.value = row.dataset.theme;
        form.elements.title.value = row.dataset.title;
        form.elements.capacity.value = row.dataset.capacity;
        form.elements.meeting_url.value = row.dataset.meeting;
        form.elements.not_before_slot_id.value = row.dataset.notBefore;
        form.elements.not_after_slot_id.value = row.dataset.notAfter;
        form.elements.same_slot_as.value = row.dataset.sameSlot;
        form.elements.not_same_slot_as.value = row.dataset.notSameSlot;
        form.elements.presenter.value = row.dataset.presenter;
        const rules = form.querySelector("#breakout-rules");
        if (rules) rules.open = [row.dataset.notBefore, row.dataset.notAfter, row.dataset.sameSlot,
          row.dataset.notSameSlot, row.dataset.presenter].some(Boolean);
        placedMode(form, Boolean(row.dataset.slot));
        notItself(form, row.dataset.breakoutId);
        setMode(form, true, `${api}/breakouts/${row.dataset.breakoutId}`);
        form.elements.title.focus();
      }
    });
  }

  function initDeleting(root) {
    root.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-delete]");
      if (!button) return;
      const what = button.dataset.what;
      if (!window.confirm(`Delete ${what}?`)) return;
      button.disabled = true;
      const form = button.closest("section").querySelector("form.api-form");
      clearErrors(form);
      try {
        await send(button.dataset.delete, "DELETE");
        reloadWith(`${sentence(what)} was deleted.`);
      } catch (err) {
        button.disabled = false;
        if (err.status === 404) return reloadWith(`${sentence(what)} was already deleted.`);
        showError(form, Object.assign(err, { body: null })); // not about a field of the form
      }
    });
  }

  // ---- CSV import -----------------------------------------------------------------------------------------------
  function initImport() {
    const form = document.getElementById("import-form");
    if (!form) return;
    const result = document.getElementById("import-result");
    const message = document.getElementById("import-message");
    const wrap = document.getElementById("import-errors-wrap");
    const rows = document.getElementById("import-errors");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = form.elements.file;
      if (!input.files.length) {
        input.focus();
        return;
      }
      const body = new FormData();
      body.append("file", input.files[0], input.files[0].name);
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      result.hidden = true;
      rows.replaceChildren();
      try {
        const done = await window.insightApi(form.dataset.action, { method: "POST", body });
        reloadWith(`Imported ${done.imported} registration${done.imported === 1 ? "" : "s"} (${done.created} new, ${done.updated} replaced).`);
      } catch (err) {
        button.disabled = false;
        message.textContent = sentence(err.message) + ".";
        const errors = err.body?.errors || [];
        errors.forEach((e) => {
          const tr = el("tr");
          tr.append(el("th", { scope: "row" }, String(e.row)), el("td", {}, e.column || "(whole row)"), el("td", {}, sentence(e.message)));
          rows.append(tr);
        });
        wrap.hidden = errors.length === 0;
        result.hidden = false;
        result.focus();
      }
    });
  }

  // ---- withdraw a registration ----------------------------------------------------------------------------------
  function initWithdraw() {
    const button = document.getElementById("withdraw");
    if (!button) return;
    button.addEventListener("click", async () => {
      if (!window.confirm("Withdraw your registration for this day?")) return;
      const form = button.closest("form");
      clearErrors(form);
      button.disabled = true;
      try {
        await window.insightApi(button.dataset.action, { method: "DELETE" });
        reloadWith("Your registration was withdrawn.");
      } catch (err) {
        button.disabled = false;
        showError(form, Object.assign(err, { body: null }));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    showFlash();
    const zone = document.getElementById("setup")?.dataset.timezone || "UTC";
    document.querySelectorAll("form.api-form").forEach((form) => initApiForm(form, zone));
    const setupRoot = document.getElementById("main");
    if (document.getElementById("setup") && setupRoot) {
      initEditing(setupRoot);
      initDeleting(setupRoot);
    }
    initImport();
    initWithdraw();
  });
})();

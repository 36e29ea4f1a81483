// 1-1 chat slots: the list on a project page (book, wait, cancel; the author opens and withdraws slots) and the
// cancel buttons of "My chats". Everything goes through /api/v1 (window.insightApi from app.js: session cookie +
// CSRF header); data goes into the page with textContent and attributes only.
"use strict";

(function () {
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const send = (path, method, data) =>
    window.insightApi(path, {
      method,
      headers: data === undefined ? {} : { "Content-Type": "application/json" },
      body: data === undefined ? undefined : JSON.stringify(data),
    });

  // Room ids are url-safe tokens; anything else does not become a link.
  const roomLink = (roomId) => (/^[A-Za-z0-9_-]{8,64}$/.test(roomId || "") ? `/chats/${roomId}` : null);

  // ---- times in the insight day's timezone ------------------------------------------------------------------------
  function parts(date, zone) {
    const fmt = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    });
    const out = {};
    fmt.formatToParts(date).forEach((p) => (out[p.type] = p.value));
    return out;
  }

  // The wall-clock date (YYYY-MM-DD) of an instant in a zone.
  function localDate(iso, zone) {
    const p = parts(new Date(iso), zone);
    return `${p.year}-${p.month}-${p.day}`;
  }

  // How far (ms) the zone's wall clock is ahead of UTC at an instant.
  function offsetAt(ms, zone) {
    const p = parts(new Date(ms), zone);
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) - ms;
  }

  // A wall-clock date and time in `zone` as an instant (two passes settle daylight-saving edges).
  function zonedToUtc(date, time, zone) {
    const [y, m, d] = date.split("-").map(Number);
    const [hh, mm] = time.split(":").map(Number);
    const wall = Date.UTC(y, m - 1, d, hh, mm);
    let ms = wall - offsetAt(wall, zone);
    ms = wall - offsetAt(ms, zone);
    return new Date(ms);
  }

  function span(slot, zone) {
    const day = new Intl.DateTimeFormat("en-GB", { timeZone: zone, weekday: "short", day: "numeric", month: "short" });
    const time = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const start = new Date(slot.starts_at);
    return { day: day.format(start), start: time.format(start), end: time.format(new Date(slot.ends_at)) };
  }

  // ---- the project page's section ---------------------------------------------------------------------------------
  function projectSlots(section) {
    const list = section.querySelector(".chat-slot-list");
    const loading = section.querySelector(".chat-slots-loading");
    const empty = section.querySelector(".chat-slots-empty");
    const zoneNote = section.querySelector(".chat-slots-zone");
    const message = section.querySelector(".chat-slots-message");
    const form = section.querySelector("#chat-slot-form");
    let zone = "UTC";
    let retries = 0;

    function say(text, isError) {
      message.textContent = text;
      message.classList.toggle("error", Boolean(isError));
    }

    function button(label, aria, onClick, kind) {
      const b = el("button", { type: "button", class: `button button-small ${kind || ""}`.trim(), "aria-label": aria }, label);
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          await onClick();
        } finally {
          b.disabled = false;
        }
      });
      return b;
    }

    async function act(path, method, done) {
      try {
        await send(path, method);
        say(done, false);
      } catch (err) {
        // 409 "this chat slot was just taken" and friends: the API's message says what happened.
        const text = err.message ? err.message.charAt(0).toUpperCase() + err.message.slice(1) + "." : "That did not work.";
        say(text, true);
      }
      await load();
    }

    function slotItem(slot, canManage) {
      const when = span(slot, zone);
      const label = `${when.day}, ${when.start}–${when.end}`;
      const item = el("li", { class: `chat-slot chat-slot-${slot.status}`, "data-slot": String(slot.id) });
      const text = el("div", { class: "chat-slot-text" });
      text.append(el("span", { class: "chat-slot-time" }, label));
      const state = el("span", { class: "chat-slot-state" });
      text.append(state);
      item.append(text);
      const actions = el("div", { class: "chat-slot-actions" });
      item.append(actions);
      const base = `/api/v1/chat-slots/${encodeURIComponent(slot.id)}`;

      if (canManage) {
        if (slot.booking) {
          state.textContent = `Booked by ${slot.booking.attendee_name || "an attendee"}`;
          const room = roomLink(slot.booking.room_id);
          if (room) actions.append(el("a", { href: room, class: "chat-room-link" }, "Chat room"));
        } else {
          state.textContent = slot.status === "past" ? "Not booked" : "Free";
        }
        if (slot.status !== "past") {
          actions.append(
            button("Cancel the slot", `Cancel the slot ${label}`, () => act(base, "DELETE", `The slot ${label} is cancelled.`), "button-secondary"),
          );
        }
        return item;
      }
      if (slot.booked_by_me) {
        state.textContent = "Booked by you";
        actions.append(el("a", { href: section.dataset.myChats, class: "chat-room-link" }, "My chats"));
        if (slot.status !== "past") {
          actions.append(
            button("Cancel", `Cancel my chat ${label}`, () => act(`${base}/booking`, "DELETE", `Your chat at ${when.start} is cancelled.`), "button-secondary"),
          );
        }
      } else if (slot.status === "free") {
        state.textContent = "Free";
        actions.append(
          button("Book", `Book ${label}`, () => act(`${base}/booking`, "POST", `Booked: ${label}. It is listed under My chats.`)),
        );
      } else if (slot.status === "taken") {
        if (slot.waitlist_position) {
          state.textContent = `Taken · you are number ${slot.waitlist_position} on the waitlist`;
          actions.append(
            button("Leave the waitlist", `Leave the waitlist for ${label}`, () => act(`${base}/waitlist`, "DELETE", "You left the waitlist."), "button-secondary"),
          );
        } else {
          state.textContent = slot.waitlist_length ? `Taken · ${slot.waitlist_length} waiting` : "Taken";
          actions.append(
            button("Join the waitlist", `Join the waitlist for ${label}`, () =>
              act(`${base}/waitlist`, "POST", `You are on the waitlist for ${label}: if it frees up and you are free then, it is booked for you.`),
              "button-secondary"),
          );
        }
      } else {
        state.textContent = "Past";
      }
      return item;
    }

    async function load() {
      let data;
      try {
        data = await window.insightApi(section.dataset.source);
      } catch (err) {
        loading.hidden = true;
        empty.hidden = false;
        empty.textContent =
          err.status === 404 ? "No chat times for this project." : "Chat times cannot be shown right now.";
        return;
      }
      if (data.known === false) {
        // A new project reaches the chat slots a moment after it is created: look again shortly.
        loading.textContent = "Chat times for this project are being set up…";
        if (retries++ < 20) window.setTimeout(load, 1000);
        return;
      }
      zone = data.timezone || "UTC";
      loading.hidden = true;
      zoneNote.hidden = false;
      zoneNote.textContent = `Times in ${zone}.`;
      const canManage = Boolean(data.can_manage);
      const items = (data.items || []).filter((s) => canManage || s.status !== "past" || s.booked_by_me);
      list.replaceChildren(...items.map((s) => slotItem(s, canManage)));
      empty.hidden = items.length > 0;
      empty.textContent = canManage ? "No chat slots yet: open one below." : "The author has not opened any chat slots.";
      if (form && canManage && data.day) setUpForm(data.day);
    }

    let formReady = false;
    function setUpForm(day) {
      form.hidden = false;
      if (formReady) return;
      formReady = true;
      const date = form.elements.date;
      date.min = localDate(day.starts_at, zone);
      date.max = localDate(day.ends_at, zone);
      date.value = date.min;
      const error = form.querySelector("#chat-slot-error");
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        error.textContent = "";
        form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
        const time = form.elements.time;
        if (!date.value || !time.value) {
          (date.value ? time : date).setAttribute("aria-invalid", "true");
          error.textContent = "Choose a date and a start time.";
          return;
        }
        const submit = form.querySelector('button[type="submit"]');
        submit.disabled = true;
        try {
          const startsAt = zonedToUtc(date.value, time.value, zone).toISOString();
          const minutes = Number(form.elements.minutes.value);
          const slot = await send(section.dataset.source, "POST", { starts_at: startsAt, minutes });
          const when = span(slot, zone);
          say(`Slot opened: ${when.day}, ${when.start}–${when.end}.`, false);
          time.value = "";
          await load();
        } catch (err) {
          const input = err.body?.error?.field === "minutes" ? form.elements.minutes : time;
          input.setAttribute("aria-invalid", "true");
          error.textContent = err.message ? err.message.charAt(0).toUpperCase() + err.message.slice(1) + "." : "Not saved.";
        } finally {
          submit.disabled = false;
        }
      });
    }

    load();
  }

  // ---- My chats: cancel a booking or leave a waitlist ------------------------------------------------------------
  function myChats() {
    const message = document.getElementById("my-chats-message");
    document.querySelectorAll("[data-cancel]").forEach((b) => {
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          await send(b.dataset.cancel, "DELETE");
          const item = b.closest("li");
          message.classList.remove("error");
          message.textContent = b.textContent === "Leave waitlist" ? "You left the waitlist." : "The chat is cancelled.";
          item.remove();
        } catch (err) {
          message.classList.add("error");
          message.textContent = err.message || "That did not work.";
          b.disabled = false;
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const section = document.getElementById("chat-slots");
    if (section && window.insightApi) projectSlots(section);
    if (document.getElementById("my-chats-message")) myChats();
  });
})();

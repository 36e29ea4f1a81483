// The 1-1 chat room page. Data goes into the page with textContent only; links are made from http(s) URLs only.
// Messages written while offline wait in localStorage (each with its client id) and are sent once on reconnect; the
// server stores a client id once per sender, so a repeat after a lost acknowledgement is harmless.
"use strict";

(function () {
  const MAX_TEXT = 2000;
  const TYPING_EVERY_MS = 2000;
  const TYPING_SHOWN_MS = 3500;
  const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Text with its http(s) links made clickable: every piece is a text node or an <a> built from a parsed URL.
  function richText(text) {
    const out = document.createDocumentFragment();
    let last = 0;
    for (const match of String(text).matchAll(URL_PATTERN)) {
      let url = match[0];
      const trail = url.match(/[.,;:!?)\]]+$/); // "see https://x.org." - the dot ends the sentence, not the URL
      if (trail) url = url.slice(0, -trail[0].length);
      out.append(document.createTextNode(text.slice(last, match.index)));
      let parsed = null;
      try {
        parsed = new URL(url);
      } catch (e) {
        parsed = null;
      }
      if (parsed && (parsed.protocol === "http:" || parsed.protocol === "https:")) {
        out.append(el("a", { href: parsed.href, rel: "noopener noreferrer nofollow", target: "_blank" }, url));
      } else {
        out.append(document.createTextNode(url));
      }
      last = match.index + url.length;
    }
    out.append(document.createTextNode(text.slice(last)));
    return out;
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

  function newClientId() {
    if (window.crypto?.randomUUID) return window.crypto.randomUUID();
    return `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 12)}`;
  }

  function init() {
    const root = document.getElementById("chat-room");
    if (!root || typeof window.io !== "function") return;
    const roomId = root.dataset.roomId;
    const me = Number(root.dataset.me);
    const list = document.getElementById("chat-messages");
    const form = document.getElementById("chat-form");
    const textarea = document.getElementById("chat-text");
    const counter = document.getElementById("chat-count");
    const errorBox = document.getElementById("chat-error");
    const status = document.getElementById("chat-connection");
    const typingBox = document.getElementById("chat-typing");
    const presenceList = document.getElementById("chat-presence");
    const countdown = document.getElementById("chat-countdown");

    const state = {
      byId: new Map(), // server id -> <li>
      pending: new Map(), // client id -> <li> (sent, not yet stored)
      lastId: 0,
      names: new Map(),
      sentThisConnection: new Set(),
      closed: false,
      readTimer: null,
      lastRead: 0,
      typingTimer: null,
      lastTypingSent: 0,
      endsAt: root.dataset.endsAt ? new Date(root.dataset.endsAt) : null,
    };

    // ---- offline queue (localStorage) --------------------------------------------------------------------------
    const OUTBOX_KEY = `insightdays:chat-outbox:${me}:${roomId}`;
    function loadOutbox() {
      try {
        const items = JSON.parse(window.localStorage.getItem(OUTBOX_KEY) || "[]");
        return Array.isArray(items) ? items.filter((i) => i && i.client_id && typeof i.text === "string") : [];
      } catch (e) {
        return [];
      }
    }
    function saveOutbox(items) {
      try {
        if (items.length) window.localStorage.setItem(OUTBOX_KEY, JSON.stringify(items));
        else window.localStorage.removeItem(OUTBOX_KEY);
      } catch (e) {
        /* storage off: the queue lives as long as the page */
      }
    }
    let outbox = loadOutbox();
    function dropFromOutbox(clientId) {
      outbox = outbox.filter((i) => i.client_id !== clientId);
      saveOutbox(outbox);
    }

    // ---- rendering -------------------------------------------------------------------------------------------------
    function nameOf(id) {
      if (id === me) return "You";
      return state.names.get(id) || "Someone";
    }

    function messageItem(m) {
      const li = el("li", { class: "chat-message" + (m.sender_id === me ? " mine" : ""), "data-id": String(m.id) });
      const head = el("div", { class: "chat-message-head" });
      head.append(el("strong", {}, nameOf(m.sender_id)));
      const date = new Date(m.sent_at);
      if (!Number.isNaN(date.getTime())) head.append(el("time", { datetime: m.sent_at }, timeFormat.format(date)));
      const body = el("p", { class: "chat-message-text" });
      body.append(richText(m.text));
      li.append(head, body);
      return li;
    }

    function render(m) {
      if (!m || typeof m.id !== "number" || m.room_id !== roomId || state.byId.has(m.id)) return;
      if (m.sender_id === me && state.pending.has(m.client_id)) {
        state.pending.get(m.client_id).remove();
        state.pending.delete(m.client_id);
      }
      const li = messageItem(m);
      state.byId.set(m.id, li);
      // In server-id order: a late answer to a resume must not land below newer messages.
      const after = [...list.querySelectorAll("li.chat-message:not(.pending)")].find((n) => Number(n.dataset.id) > m.id);
      if (after) list.insertBefore(li, after);
      else {
        const firstPending = list.querySelector("li.pending");
        if (firstPending) list.insertBefore(li, firstPending);
        else list.append(li);
      }
      state.lastId = Math.max(state.lastId, m.id);
      li.scrollIntoView({ block: "nearest" });
      scheduleRead();
    }

    function renderPending(item) {
      if (state.pending.has(item.client_id)) return;
      const li = el("li", { class: "chat-message mine pending", "data-client-id": item.client_id });
      const head = el("div", { class: "chat-message-head" });
      head.append(el("strong", {}, "You"), el("span", { class: "chat-pending-note" }, "waiting to be sent"));
      const body = el("p", { class: "chat-message-text" });
      body.append(richText(item.text));
      li.append(head, body);
      list.append(li);
      state.pending.set(item.client_id, li);
    }

    function failPending(clientId, message) {
      const li = state.pending.get(clientId);
      if (!li) return;
      li.classList.add("failed");
      li.querySelector(".chat-pending-note").textContent = `not sent: ${message}`;
      state.pending.delete(clientId);
    }

    function setStatus(text, kind) {
      status.textContent = text;
      status.dataset.state = kind;
      root.dataset.connection = kind;
    }

    function showError(text) {
      errorBox.textContent = text ? window.insightPage.sentence(text) : "";
    }

    // ---- read markers (unread counts on the rooms list) ------------------------------------------------------------
    function scheduleRead() {
      if (document.visibilityState !== "visible" || state.lastId <= state.lastRead) return;
      window.clearTimeout(state.readTimer);
      state.readTimer = window.setTimeout(async () => {
        const upTo = state.lastId;
        try {
          await window.insightApi(`/api/v1/chat-rooms/${encodeURIComponent(roomId)}/read`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ last_read_id: upTo }),
          });
          state.lastRead = Math.max(state.lastRead, upTo);
        } catch (e) {
          /* the next message or visit tries again */
        }
      }, 400);
    }
    document.addEventListener("visibilitychange", scheduleRead);

    // ---- the socket --------------------------------------------------------------------------------------------------
    const socket = window.io("/chat", { transports: ["websocket", "polling"], tryAllTransports: true, forceNew: true });
    window.insightChat = { socket, roomId, me };

    function flushOutbox() {
      if (!socket.connected) return;
      for (const item of outbox) {
        if (state.sentThisConnection.has(item.client_id)) continue; // once per connection; the server dedupes
        state.sentThisConnection.add(item.client_id);
        socket.emit("message", { room_id: roomId, client_id: item.client_id, text: item.text }, (ack) => {
          if (ack?.ok) {
            dropFromOutbox(item.client_id);
            render(ack.message);
            return;
          }
          const code = ack?.error?.code;
          if (code === "rate_limited" || code === "unavailable") {
            // Not refused, only not now: try the same message (same client id) again a little later.
            state.sentThisConnection.delete(item.client_id);
            window.setTimeout(flushOutbox, Math.max(500, Number(ack?.retry_after_ms) || 2000));
            showError(ack.error.message);
            return;
          }
          dropFromOutbox(item.client_id);
          failPending(item.client_id, ack?.error?.message || "refused");
          showError(ack?.error?.message || "The message was not sent.");
        });
      }
    }

    function applyRoom(room) {
      room.participants.forEach((p) => state.names.set(p.id, p.display_name));
      if (room.ends_at) state.endsAt = new Date(room.ends_at);
      setClosed(!room.writable, room.closed_reason);
      updateMutes(room.muted || []);
    }

    function join() {
      socket.emit("join", { room_id: roomId }, (ack) => {
        if (!ack?.ok) {
          setStatus(ack?.error?.message || "You cannot join this room.", "refused");
          setClosed(true, ack?.error?.code);
          return;
        }
        applyRoom(ack.room);
        const since = state.lastId;
        (ack.room.messages || []).forEach(render);
        showPresence(ack.room.present || []);
        setStatus("Connected", "connected");
        if (since > 0) resume(since);
        flushOutbox();
      });
    }

    function resume(after) {
      socket.emit("resume", { room_id: roomId, after }, (ack) => {
        if (!ack?.ok) return;
        ack.items.forEach(render);
        if (ack.has_more) resume(state.lastId);
      });
    }

    socket.on("connect", () => {
      state.sentThisConnection.clear();
      join();
    });
    socket.on("disconnect", () => setStatus("Offline: messages you write are kept and sent when you are back.", "offline"));
    socket.on("connect_error", () => setStatus("Reconnecting…", socket.active ? "reconnecting" : "refused"));
    socket.on("message", render);
    socket.on("presence", (data) => data?.room_id === roomId && showPresence(data.users || []));
    socket.on("typing", (data) => {
      if (data?.room_id !== roomId || data.user_id === me) return;
      typingBox.textContent = `${nameOf(data.user_id)} is typing…`;
      window.clearTimeout(state.typingTimer);
      state.typingTimer = window.setTimeout(() => (typingBox.textContent = ""), TYPING_SHOWN_MS);
    });
    socket.on("muted", (data) => data?.room_id === roomId && updateMutes(data.muted || []));
    socket.on("follow_up", (data) => data?.room_id === roomId && upsertAction(data));
    // Re-dispatched like app.js does for its socket, for modules built on this page (e.g. the video call).
    socket.onAny((event, data) => document.dispatchEvent(new CustomEvent(`insight:${event}`, { detail: data })));

    // The browser says the network is gone: stop the socket ourselves so writing goes to the queue at once
    // (a half-dead websocket would only notice after its ping timeout).
    window.addEventListener("offline", () => {
      socket.disconnect();
      setStatus("Offline: messages you write are kept and sent when you are back.", "offline");
    });
    window.addEventListener("online", () => {
      setStatus("Reconnecting…", "reconnecting");
      socket.connect();
    });

    // ---- presence --------------------------------------------------------------------------------------------------
    function showPresence(users) {
      presenceList.replaceChildren(
        ...users.map((id) => el("li", { "data-user": String(id) }, id === me ? "You" : nameOf(id)))
      );
    }

    // ---- writing -------------------------------------------------------------------------------------------------
    function updateCounter() {
      const length = textarea.value.trim().length;
      counter.textContent = `${length.toLocaleString()} / ${MAX_TEXT.toLocaleString()}`;
      counter.classList.toggle("over", length > MAX_TEXT);
    }

    textarea.addEventListener("input", () => {
      updateCounter();
      const now = Date.now();
      if (socket.connected && now - state.lastTypingSent > TYPING_EVERY_MS && textarea.value.trim()) {
        state.lastTypingSent = now;
        socket.emit("typing", { room_id: roomId });
      }
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = textarea.value.trim();
      if (!text || state.closed) return;
      if (text.length > MAX_TEXT) {
        showError(`A message can have at most 2,000 characters (this one has ${text.length.toLocaleString()}).`);
        return;
      }
      showError("");
      const item = { client_id: newClientId(), text };
      outbox.push(item);
      saveOutbox(outbox);
      renderPending(item);
      textarea.value = "";
      updateCounter();
      flushOutbox();
    });

    function setClosed(closed, reason) {
      state.closed = closed;
      textarea.disabled = closed;
      document.getElementById("chat-send").disabled = closed;
      if (closed) {
        const words = {
          ended: "The chat has ended: writing is closed.",
          cancelled: "This chat was cancelled.",
          closed: "This chat room is closed.",
        };
        countdown.textContent = words[reason] || countdown.textContent;
      }
    }

    // ---- countdown to the slot's end (the server closes writing then too) ------------------------------------------
    function tick() {
      if (!state.endsAt || state.closed) return;
      const left = Math.max(0, Math.round((state.endsAt.getTime() - Date.now()) / 1000));
      if (left === 0) {
        setClosed(true, "ended");
        return;
      }
      const h = Math.floor(left / 3600);
      const m = Math.floor((left % 3600) / 60);
      const s = String(left % 60).padStart(2, "0");
      countdown.textContent = h ? `${h} h ${m} min left` : `${m}:${s} left`;
    }
    tick();
    window.setInterval(tick, 1000);

    // ---- follow-up actions ------------------------------------------------------------------------------------------
    const actionList = document.getElementById("chat-actions");
    const actionForm = document.getElementById("chat-action-form");
    const actionsBase = `/api/v1/chat-rooms/${encodeURIComponent(roomId)}/actions`;

    function upsertAction(a) {
      const li = el("li", { class: "chat-action" + (a.done_at ? " done" : ""), "data-action": String(a.id) });
      li.append(el("span", { class: "chat-action-text" }, a.text));
      const meta = `${a.owner_id === me ? "You" : nameOf(a.owner_id)}${a.due_on ? `, by ${a.due_on}` : ""}`;
      li.append(el("span", { class: "chat-action-meta muted" }, ` — ${meta}${a.done_at ? " (done)" : ""}`));
      if (a.owner_id === me && !a.done_at) {
        const done = el("button", { type: "button", class: "button button-secondary button-small" }, "Mark done");
        done.addEventListener("click", async () => {
          done.disabled = true;
          try {
            upsertAction(await window.insightApi(`${actionsBase}/${a.id}/done`, { method: "POST" }));
          } catch (err) {
            done.disabled = false;
          }
        });
        li.append(done);
      }
      const existing = actionList.querySelector(`[data-action="${a.id}"]`);
      if (existing) existing.replaceWith(li);
      else actionList.append(li);
    }

    async function loadActions() {
      try {
        const data = await window.insightApi(actionsBase);
        data.items.forEach(upsertAction);
      } catch (e) {
        /* shown when the next change arrives */
      }
    }
    loadActions();

    actionForm?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const errorP = document.getElementById("action-error");
      errorP.textContent = "";
      const body = { text: actionForm.elements.text.value.trim(), owner_id: Number(actionForm.elements.owner_id.value) };
      if (actionForm.elements.due_on.value) body.due_on = actionForm.elements.due_on.value;
      try {
        upsertAction(
          await window.insightApi(actionsBase, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(body),
          })
        );
        actionForm.reset();
      } catch (err) {
        errorP.textContent = window.insightPage.sentence(err.message);
      }
    });

    // ---- moderation (organisers) ------------------------------------------------------------------------------------
    function updateMutes(muted) {
      document.querySelectorAll("[data-mute]").forEach((button) => {
        const isMuted = muted.includes(Number(button.dataset.mute));
        button.textContent = isMuted ? "Unmute" : "Mute";
        button.dataset.muted = isMuted ? "1" : "";
      });
      if (muted.includes(me)) showError("An organiser muted you in this room.");
    }
    document.querySelectorAll("[data-mute]").forEach((button) => {
      button.addEventListener("click", async () => {
        const path = `/api/v1/chat-rooms/${encodeURIComponent(roomId)}/mutes/${button.dataset.mute}`;
        try {
          const data = await window.insightApi(path, { method: button.dataset.muted ? "DELETE" : "PUT" });
          updateMutes(data.muted);
        } catch (err) {
          showError(err.message);
        }
      });
    });

    outbox.forEach(renderPending); // written offline in an earlier visit: shown now, sent once connected
    updateCounter();
  }

  document.addEventListener("DOMContentLoaded", init);
})();

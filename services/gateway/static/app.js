// Small progressive enhancements. No inline scripts anywhere: the CSP only allows files from this origin.
// Every piece of data goes into the page with textContent / attributes, never as HTML.
"use strict";

(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = meta ? meta.content : "";

  // fetch() for the JSON API with the session cookie; unsafe methods carry the CSRF header.
  window.insightApi = async function (path, options = {}) {
    const method = (options.method || "GET").toUpperCase();
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers["X-CSRFToken"] = csrfToken;
    const response = await fetch(path, Object.assign({}, options, { method, headers, credentials: "same-origin" }));
    const body = response.headers.get("Content-Type")?.includes("application/json") ? await response.json() : null;
    if (!response.ok) {
      const message = body?.error?.message || `request failed (${response.status})`;
      throw Object.assign(new Error(message), { status: response.status, body });
    }
    return body;
  };

  // What the feature pages (set-up, coffee, people, assignment) share: a message that survives the reload after a
  // change, and API errors turned into a sentence.
  const FLASH_KEY = "insightdays:flash";
  window.insightPage = {
    reloadWith(message) {
      try {
        window.sessionStorage.setItem(FLASH_KEY, message);
      } catch (e) {
        /* storage off: the page still reloads */
      }
      window.location.reload();
    },
    showFlash() {
      const status = document.getElementById("page-status");
      let message = null;
      try {
        message = window.sessionStorage.getItem(FLASH_KEY);
        window.sessionStorage.removeItem(FLASH_KEY);
      } catch (e) {
        return;
      }
      if (!status || !message) return;
      status.hidden = false;
      window.setTimeout(() => (status.textContent = message), 50); // after load, so screen readers announce it
    },
    sentence(text) {
      const clean = String(text || "Something went wrong.").replace(/^Value error, /, "");
      return clean.charAt(0).toUpperCase() + clean.slice(1);
    },
  };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text; // textContent: never HTML from data
    return node;
  }

  // Only same-site paths become links: a notification must not send anyone off-site.
  function safeLink(link) {
    return typeof link === "string" && link.startsWith("/") && !link.startsWith("//") && !link.includes("\\")
      ? link
      : null;
  }

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function when(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : dateFormat.format(date);
  }

  const isUnread = (n) => !(n.read_at || n.read);
  const titleOf = (n) => n.title || n.kind || "Notification";

  // ---- unread badge -------------------------------------------------------------------------------------------
  // The server's count is the truth, but a live push can arrive while a count request is in flight (or before the
  // socket joined its room). So: every id seen is remembered (a repeated push never counts twice), and pushes that
  // arrive during a request are added to its answer unless that answer already contains them.
  const unread = { badge: null, count: 0, seen: new Set(), inflight: new Set() };

  function setUnread(count) {
    unread.count = Math.max(0, count);
    const badge = unread.badge;
    if (!badge) return;
    badge.querySelector(".badge-count").textContent = unread.count > 99 ? "99+" : String(unread.count);
    badge.hidden = unread.count === 0;
  }

  function trackRequest() {
    const arrived = new Set();
    unread.inflight.add(arrived);
    return {
      // Returns the ids pushed while the request ran that its answer does not have yet.
      settle(serverCount, items) {
        unread.inflight.delete(arrived);
        const ids = new Set(items.map((n) => n.id));
        ids.forEach((id) => unread.seen.add(id));
        const missing = [...arrived].filter((id) => !ids.has(id));
        setUnread(serverCount + missing.length);
        return missing;
      },
      abandon() {
        unread.inflight.delete(arrived);
      },
    };
  }

  async function refreshUnread() {
    if (!unread.badge) return;
    const request = trackRequest();
    try {
      const data = await window.insightApi(unread.badge.dataset.source);
      request.settle(Number(data?.unread_count) || 0, data?.items || []);
    } catch (err) {
      request.abandon(); // keep what is shown; the next connect or visit tries again
    }
  }

  // True when this notification is new to the page (and was counted).
  function countLive(n) {
    if (n.id === undefined || n.id === null || unread.seen.has(n.id)) return false;
    unread.seen.add(n.id);
    unread.inflight.forEach((arrived) => arrived.add(n.id));
    setUnread(unread.count + 1);
    return true;
  }

  // ---- notifications page -------------------------------------------------------------------------------------
  function notificationItem(n, fresh) {
    const item = el("li", {
      class: "notification" + (isUnread(n) ? " unread" : "") + (fresh ? " fresh" : ""),
      "data-id": String(n.id),
    });
    const head = el("div", { class: "notification-head" });
    const link = safeLink(n.link);
    const title = el("strong", { class: "notification-title" }, titleOf(n));
    if (link) {
      const a = el("a", { href: link });
      a.append(title);
      head.append(a);
    } else {
      head.append(title);
    }
    if (isUnread(n)) head.append(el("span", { class: "pill" }, "New"));
    item.append(head);
    if (n.body) item.append(el("p", { class: "notification-body" }, n.body));
    if (n.created_at) item.append(el("time", { datetime: n.created_at }, when(n.created_at)));
    return item;
  }

  const page = { box: null, list: null, next: 1, markAll: null, older: null };

  function showEmpty() {
    page.list = null;
    page.box.replaceChildren(el("p", { class: "empty" }, "No notifications yet."));
  }

  function ensureList() {
    if (!page.list) {
      page.list = el("ul", { class: "notification-list" });
      page.box.replaceChildren(page.list);
    }
    return page.list;
  }

  async function loadNotifications(reset) {
    const box = page.box;
    if (reset) page.next = 1;
    box.setAttribute("aria-busy", "true");
    const request = page.next === 1 ? trackRequest() : null; // older pages say nothing new about the count
    try {
      const data = await window.insightApi(`${box.dataset.source}?page=${page.next}`);
      const items = data?.items || [];
      const missing = request?.settle(Number(data?.unread_count) || 0, items) || [];
      // Pushed while this request ran but not in its answer: keep them on top rather than lose them.
      const keep = missing.map((id) => page.list?.querySelector(`[data-id="${CSS.escape(String(id))}"]`));
      if (reset) {
        page.list = null;
        if (!items.length && !keep.some(Boolean)) showEmpty();
      }
      if (items.length || keep.some(Boolean)) {
        const list = ensureList();
        keep.filter(Boolean).forEach((li) => list.append(li));
        const known = new Set([...list.children].map((li) => li.dataset.id));
        items.filter((n) => !known.has(String(n.id))).forEach((n) => list.append(notificationItem(n, false)));
      }
      page.next += 1;
      if (page.older) page.older.hidden = !data?.has_more;
      if (page.markAll) page.markAll.hidden = unread.count === 0;
    } catch (err) {
      request?.abandon();
      if (reset) {
        page.list = null;
        box.replaceChildren(el("p", { class: "alert", role: "alert" }, "Notifications cannot be shown right now."));
      }
    } finally {
      box.setAttribute("aria-busy", "false");
    }
  }

  function prependLive(n) {
    const list = ensureList();
    if (list.querySelector(`[data-id="${CSS.escape(String(n.id))}"]`)) return;
    list.prepend(notificationItem(n, true));
    if (page.markAll) page.markAll.hidden = false;
  }

  function initNotificationsPage() {
    page.box = document.getElementById("notifications");
    if (!page.box) return;
    page.markAll = document.getElementById("mark-all-read");
    page.older = document.getElementById("older-notifications");
    loadNotifications(true);
    page.older?.addEventListener("click", () => loadNotifications(false));
    page.markAll?.addEventListener("click", async () => {
      page.markAll.disabled = true;
      try {
        await window.insightApi(page.markAll.dataset.action, { method: "POST" });
        setUnread(0);
        page.markAll.hidden = true;
        await loadNotifications(true);
        announce("All notifications marked as read.");
      } catch (err) {
        announce("Notifications could not be marked as read. Please try again.");
      } finally {
        page.markAll.disabled = false;
      }
    });
  }

  // ---- announcements and toasts -------------------------------------------------------------------------------
  function announce(text) {
    const announcer = document.getElementById("announcer");
    if (!announcer) return;
    announcer.textContent = "";
    // A fresh text node after a tick, so that repeating the same words is announced again.
    window.setTimeout(() => {
      announcer.textContent = text;
    }, 50);
  }

  const TOAST_MS = 8000;
  const MAX_TOASTS = 3;

  function showToast(n) {
    const region = document.getElementById("toasts");
    if (!region) return;
    const toast = el("div", { class: "toast" });
    const text = el("div", { class: "toast-text" });
    text.append(el("strong", { class: "toast-title" }, titleOf(n)));
    if (n.body) text.append(el("p", { class: "toast-body" }, n.body));
    const view = el("a", { class: "toast-link", href: safeLink(n.link) || "/notifications" }, "View");
    text.append(view);
    const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss notification" }, "×");
    toast.append(text, close);

    let timer = null;
    const remove = () => {
      window.clearTimeout(timer);
      toast.remove();
    };
    // It waits while the pointer or keyboard focus is on it: nobody should lose a message they are reading.
    const arm = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(remove, TOAST_MS);
    };
    close.addEventListener("click", remove);
    toast.addEventListener("mouseenter", () => window.clearTimeout(timer));
    toast.addEventListener("mouseleave", arm);
    toast.addEventListener("focusin", () => window.clearTimeout(timer));
    toast.addEventListener("focusout", arm);
    region.append(toast);
    while (region.children.length > MAX_TOASTS) region.firstElementChild.remove();
    arm();
  }

  // ---- live updates over Socket.IO ----------------------------------------------------------------------------
  function onNotification(n) {
    if (!n || typeof n !== "object" || !countLive(n)) return;
    if (page.box) {
      prependLive(n);
      announce(`New notification: ${titleOf(n)}`);
    } else {
      showToast(n);
    }
  }

  function connectLive() {
    const root = document.documentElement;
    if (typeof window.io !== "function") {
      root.dataset.live = "unavailable";
      return false;
    }
    // WebSocket first (no sticky sessions needed behind several gateway processes), long-polling if it is blocked.
    const socket = window.io("/chat", { transports: ["websocket", "polling"], tryAllTransports: true });
    socket.on("connect", () => {
      root.dataset.live = "connected";
      refreshUnread(); // catch up on anything pushed while we were not in our room yet
    });
    socket.on("disconnect", () => {
      root.dataset.live = "disconnected";
    });
    socket.on("connect_error", (err) => {
      // Refused by the server (signed out elsewhere, session expired): the client will not retry; nothing to do.
      root.dataset.live = socket.active ? "reconnecting" : "refused";
      if (!socket.active) console.info("live updates off:", err.message);
    });
    socket.on("notification", onNotification);
    // Feature pages listen for their own pushes (e.g. "insight:assignment_progress") without a second socket.
    socket.onAny((event, data) => document.dispatchEvent(new CustomEvent(`insight:${event}`, { detail: data })));
    return true;
  }

  document.addEventListener("DOMContentLoaded", () => {
    unread.badge = document.getElementById("unread-badge");
    initNotificationsPage();
    if (!unread.badge) return; // signed out: no badge, no socket
    // The notifications page's own list request brings the count; elsewhere, ask for it.
    if (!page.box) refreshUnread();
    connectLive();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refreshUnread(); // another tab may have read them
    });
  });
})();

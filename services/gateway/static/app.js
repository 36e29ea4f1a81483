// Small progressive enhancements. No inline scripts anywhere: the CSP only allows files from this origin.
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

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text; // textContent: never HTML from data
    return node;
  }

  async function loadNotifications(box) {
    try {
      const data = await window.insightApi(box.dataset.source);
      const items = Array.isArray(data) ? data : data?.items || [];
      box.replaceChildren();
      if (!items.length) {
        box.append(el("p", { class: "empty" }, "No notifications yet."));
        return;
      }
      const list = el("ul", { class: "notification-list" });
      for (const n of items) {
        const item = el("li", { class: "notification" + (n.read_at || n.read ? "" : " unread") });
        const title = n.title || n.kind || "Notification";
        // Only same-site paths become links: a notification must not send anyone off-site.
        if (typeof n.link === "string" && n.link.startsWith("/") && !n.link.startsWith("//")) {
          const a = el("a", { href: n.link });
          a.append(el("strong", {}, title));
          item.append(a);
        } else {
          item.append(el("strong", {}, title));
        }
        const text = n.body || n.text || n.message;
        if (text) item.append(el("p", {}, text));
        if (n.created_at) {
          item.append(el("time", { datetime: n.created_at }, new Date(n.created_at).toLocaleString()));
        }
        list.append(item);
      }
      box.append(list);
      const markAll = document.getElementById("mark-all-read");
      if (markAll && items.some((n) => !(n.read_at || n.read))) markAll.hidden = false;
    } catch (err) {
      box.replaceChildren(el("p", { class: "alert", role: "alert" }, "Notifications cannot be shown right now."));
    } finally {
      box.setAttribute("aria-busy", "false");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("notifications");
    if (box) loadNotifications(box);
    const markAll = document.getElementById("mark-all-read");
    if (markAll && box) {
      markAll.addEventListener("click", async () => {
        markAll.disabled = true;
        try {
          await window.insightApi(markAll.dataset.action, { method: "POST" });
          markAll.hidden = true;
          await loadNotifications(box);
        } catch (err) {
          markAll.disabled = false;
        }
      });
    }
  });
})();

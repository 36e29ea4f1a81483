// Poster pages: new/edit project forms, uploads with live status, reorder/delete, organiser moderation.
// Data goes into the page with textContent and attributes only, never as HTML (the CSP forbids inline scripts).
"use strict";

(function () {
  const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";

  // The JSON API with the session cookie; unsafe methods carry the CSRF header. Errors keep the API's body.
  async function api(path, options = {}) {
    const method = (options.method || "GET").toUpperCase();
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers["X-CSRFToken"] = csrfToken;
    const response = await fetch(path, Object.assign({}, options, { method, headers, credentials: "same-origin" }));
    const json = (response.headers.get("Content-Type") || "").includes("application/json");
    const body = json ? await response.json() : null;
    if (!response.ok) {
      const error = body?.error || {};
      throw Object.assign(new Error(error.message || `request failed (${response.status})`), {
        status: response.status,
        field: error.field || null,
      });
    }
    return body;
  }
  const sendJson = (path, method, data) =>
    api(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Only our own API paths go into src/href.
  const ownPath = (p) => (typeof p === "string" && /^\/api\/v1\/[^\\]*$/.test(p) && !p.startsWith("//") ? p : null);

  function announce(node, text) {
    if (!node) return;
    node.textContent = "";
    window.setTimeout(() => (node.textContent = text), 50);
  }

  // ---- project forms (new on the event page, edit on the project page) --------------------------------------
  const splitComma = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
  const splitLines = (s) => s.split(/\r?\n/).map((x) => x.trim()).filter(Boolean);

  function formData(form, editing) {
    const value = (name) => form.elements[name].value.trim();
    const data = {
      title: value("title"),
      summary: value("summary"),
      themes: splitComma(value("themes")),
      learnings: [...form.querySelectorAll('[name="learnings"]')].map((n) => n.value.trim()),
      questions: splitLines(form.elements.questions.value),
      tools: splitComma(value("tools")),
      organisation: value("organisation"),
      region: value("region"),
    };
    const authors = splitComma(value("authors"));
    if (authors.length) data.authors = authors; // none given: the service uses the author's own name
    const video = value("video_url");
    if (video) data.video_url = video;
    else if (editing) data.video_url = null; // emptied: remove the link
    return data;
  }

  // The API names the field ("themes", "learnings.1"); point at the matching input.
  function fieldInput(form, field) {
    if (!field) return null;
    const [name, index] = String(field).split(".");
    const inputs = form.querySelectorAll(`[name="${CSS.escape(name)}"]`);
    if (!inputs.length) return null;
    return name === "learnings" && index !== undefined && inputs[Number(index)] ? inputs[Number(index)] : inputs[0];
  }

  // The API's name for an input ("learnings.1" for the second learning), so both kinds of error look alike.
  function fieldName(input) {
    return input.dataset.index !== undefined ? `${input.name}.${input.dataset.index}` : input.name;
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((f) => f.classList.remove("field-error"));
    form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
    form.querySelectorAll(".error.js-error").forEach((e) => e.remove());
    const alert = form.querySelector(".form-alert");
    alert.hidden = true;
    alert.replaceChildren();
  }

  function showError(form, err) {
    const alert = form.querySelector(".form-alert");
    const input = fieldInput(form, err.field);
    const text = (err.message || "Something went wrong.").replace(/^Value error, /, ""); // pydantic's prefix
    const message = text.charAt(0).toUpperCase() + text.slice(1);
    alert.replaceChildren(el("p", {}, input ? "Please check the form." : message));
    alert.hidden = false;
    if (input) {
      const field = input.closest(".field");
      field.classList.add("field-error");
      const id = `${input.id}-error`;
      field.append(el("p", { class: "error js-error", id }, message));
      input.setAttribute("aria-invalid", "true");
      const described = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== id);
      input.setAttribute("aria-describedby", [...described, id].join(" "));
      input.focus();
    } else {
      alert.focus?.();
    }
  }

  function initProjectForm(form) {
    const editing = form.dataset.method === "PATCH";
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const missing = [...form.querySelectorAll("[required]")].find((input) => !input.value.trim());
      if (missing) {
        const label = form.querySelector(`label[for="${CSS.escape(missing.id)}"]`)?.textContent.trim() || "This field";
        showError(form, { message: `${label} is required.`, field: fieldName(missing) });
        return;
      }
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        const project = await sendJson(form.dataset.action, form.dataset.method, formData(form, editing));
        window.location.assign(`/projects/${encodeURIComponent(project.id)}`);
      } catch (err) {
        showError(form, err);
        button.disabled = false;
      }
    });
  }

  // ---- poster previews (same markup as the server's poster_article macro) -----------------------------------
  function posterArticle(p) {
    const article = el("article", { class: "poster", id: `poster-${p.id}`, "data-poster-id": String(p.id) });
    const title = el("h3", { class: "poster-title" }, `${p.file_name} `);
    title.append(el("span", { class: "muted" }, `· ${p.page_count} page${p.page_count === 1 ? "" : "s"}`));
    const pages = el("div", { class: "poster-pages" });
    (p.pages || []).forEach((page) => {
      const url = ownPath(page.url);
      if (!url) return;
      const figure = el("figure", { class: "poster-page" });
      const link = el("a", { href: url, target: "_blank", rel: "noopener" });
      link.append(
        el("img", {
          src: url,
          alt: `Page ${page.number} of ${p.file_name}`,
          width: String(page.width),
          height: String(page.height),
          loading: "lazy",
          decoding: "async",
        })
      );
      const caption = el("figcaption", {}, `Page ${page.number} of ${p.pages.length} `);
      caption.append(el("span", { class: "visually-hidden" }, "(opens full size in a new tab)"));
      figure.append(link, caption);
      pages.append(figure);
    });
    article.append(title, pages);
    return article;
  }

  function showPreview(p) {
    if (p.media === "video") {
      const box = document.getElementById("video-previews");
      const url = ownPath(p.video_url);
      if (!box || !url || box.querySelector(`[data-poster-id="${p.id}"]`)) return;
      box.append(
        el("video", {
          class: "project-video",
          "data-poster-id": String(p.id),
          controls: "",
          preload: "metadata",
          src: url,
          "aria-label": `Video: ${p.file_name}`,
        })
      );
      document.getElementById("video-section").hidden = false;
      return;
    }
    const box = document.getElementById("poster-previews");
    if (!box || box.querySelector(`[data-poster-id="${p.id}"]`)) return;
    box.append(posterArticle(p));
    syncEmpty();
  }

  function removePreview(id) {
    document.querySelectorAll(`#poster-previews [data-poster-id="${id}"], #video-previews [data-poster-id="${id}"]`)
      .forEach((n) => n.remove());
    syncEmpty();
  }

  function syncEmpty() {
    const empty = document.getElementById("no-posters");
    if (empty) empty.hidden = !!document.querySelector("#poster-previews .poster");
  }

  // ---- the owner's file manager -----------------------------------------------------------------------------
  const STATUS_TEXT = { uploading: "Uploading…", processing: "Processing…", ready: "Ready", rejected: "Rejected" };

  function initManager() {
    const list = document.getElementById("upload-list");
    const form = document.getElementById("upload-form");
    const dataNode = document.getElementById("project-data");
    if (!list || !form || !dataNode) return;
    const announcer = document.getElementById("upload-announcer");
    const project = document.getElementById("project");
    const initial = JSON.parse(dataNode.textContent);
    const items = new Map(); // key -> {poster, row}
    let localKey = 0;

    const movable = (p) => p && p.media === "poster" && p.status !== "rejected" && !p.replaces;

    function orderedPosterIds() {
      return [...list.children].map((li) => items.get(li.dataset.key)?.poster).filter(movable).map((p) => p.id);
    }

    function refreshButtons() {
      const ids = orderedPosterIds();
      list.querySelectorAll("li").forEach((li) => {
        const poster = items.get(li.dataset.key)?.poster;
        const at = movable(poster) ? ids.indexOf(poster.id) : -1;
        li.querySelector('[data-act="up"]')?.toggleAttribute("disabled", at <= 0);
        li.querySelector('[data-act="down"]')?.toggleAttribute("disabled", at < 0 || at >= ids.length - 1);
      });
    }

    function render(key) {
      const { poster, row, error, name } = items.get(key);
      const status = error ? "rejected" : poster ? poster.status : "uploading";
      const fileName = poster ? poster.file_name : name;
      row.className = `upload upload-${status}`;
      row.replaceChildren();
      const info = el("div", { class: "upload-info" });
      info.append(el("span", { class: "upload-name" }, fileName));
      const state = el("span", { class: `status status-${status}` }, STATUS_TEXT[status] || status);
      if (status === "uploading" || status === "processing") state.prepend(el("span", { class: "spinner", "aria-hidden": "true" }));
      info.append(state);
      if (poster && poster.media === "video") info.append(el("span", { class: "muted" }, "video"));
      if (status === "ready" && poster.media === "poster") {
        info.append(el("span", { class: "muted" }, `${poster.page_count} page${poster.page_count === 1 ? "" : "s"}`));
      }
      row.append(info);
      const reason = error || poster?.reason;
      if (status === "rejected" && reason) row.append(el("p", { class: "upload-reason" }, reason));
      const actions = el("div", { class: "upload-actions" });
      if (movable(poster)) {
        actions.append(
          el("button", { type: "button", class: "icon-button", "data-act": "up", "aria-label": `Move ${fileName} up` }, "↑"),
          el("button", { type: "button", class: "icon-button", "data-act": "down", "aria-label": `Move ${fileName} down` }, "↓")
        );
      }
      if (poster) {
        actions.append(el("button", { type: "button", class: "link-button danger", "data-act": "delete", "aria-label": `Delete ${fileName}` }, "Delete"));
      } else if (error) {
        actions.append(el("button", { type: "button", class: "link-button", "data-act": "dismiss", "aria-label": `Dismiss ${fileName}` }, "Dismiss"));
      }
      row.append(actions);
      refreshButtons();
    }

    function add(entry) {
      const key = String(++localKey);
      const row = el("li", { "data-key": key });
      items.set(key, Object.assign({ row }, entry));
      list.append(row);
      render(key);
      return key;
    }

    async function poll(key, delay = 800) {
      const item = items.get(key);
      if (!item || !item.poster || item.poster.status !== "processing") return;
      window.setTimeout(async () => {
        const current = items.get(key);
        if (!current) return; // deleted meanwhile
        try {
          current.poster = await api(ownPath(current.poster.status_url) || `/api/v1/posters/${current.poster.id}`);
        } catch (err) {
          if (err.status === 404) return; // deleted elsewhere
          return poll(key, Math.min(delay * 2, 5000));
        }
        render(key);
        if (current.poster.status === "processing") return poll(key, Math.min(delay * 1.5, 5000));
        if (current.poster.status === "ready") {
          showPreview(current.poster);
          announce(announcer, `${current.poster.file_name} is ready.`);
        } else {
          announce(announcer, `${current.poster.file_name} was rejected: ${current.poster.reason || "unknown reason"}`);
        }
      }, delay);
    }

    async function upload(file) {
      const key = add({ poster: null, name: file.name });
      const body = new FormData();
      body.append("file", file, file.name);
      try {
        items.get(key).poster = await api(form.dataset.action, { method: "POST", body });
      } catch (err) {
        items.get(key).error = err.message || "the upload failed";
        render(key);
        announce(announcer, `${file.name} was rejected: ${items.get(key).error}`);
        return;
      }
      render(key);
      poll(key);
    }

    async function move(key, step) {
      const li = items.get(key).row;
      const ids = orderedPosterIds();
      const at = ids.indexOf(items.get(key).poster.id);
      const to = at + step;
      if (at < 0 || to < 0 || to >= ids.length) return;
      [ids[at], ids[to]] = [ids[to], ids[at]];
      try {
        const result = await sendJson(`${project.dataset.api}/posters/order`, "PUT", { poster_ids: ids });
        const byId = new Map([...items.entries()].filter(([, v]) => v.poster).map(([k, v]) => [v.poster.id, k]));
        (result.items || []).forEach((p) => {
          const k = byId.get(p.id);
          if (k) list.append(items.get(k).row); // the server's order, then everything it does not order
        });
        [...list.children].filter((r) => !movable(items.get(r.dataset.key)?.poster)).forEach((r) => list.append(r));
        const previews = document.getElementById("poster-previews");
        (result.items || []).forEach((p) => {
          const node = previews.querySelector(`[data-poster-id="${p.id}"]`);
          if (node) previews.append(node);
        });
        refreshButtons();
        li.querySelector(`[data-act="${step < 0 ? "up" : "down"}"]:not([disabled])`)?.focus();
        announce(announcer, `${items.get(key).poster.file_name} moved to position ${to + 1} of ${ids.length}.`);
      } catch (err) {
        announce(announcer, `Could not reorder: ${err.message}`);
      }
    }

    async function remove(key) {
      const { poster } = items.get(key);
      if (!window.confirm(`Delete ${poster.file_name}?`)) return;
      try {
        await api(`/api/v1/posters/${encodeURIComponent(poster.id)}`, { method: "DELETE" });
      } catch (err) {
        if (err.status !== 404) {
          announce(announcer, `Could not delete ${poster.file_name}: ${err.message}`);
          return;
        }
      }
      items.get(key).row.remove();
      items.delete(key);
      removePreview(poster.id);
      refreshButtons();
      announce(announcer, `${poster.file_name} deleted.`);
      form.querySelector("input[type=file]").focus();
    }

    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-act]");
      if (!button) return;
      const key = button.closest("li").dataset.key;
      const act = button.dataset.act;
      if (act === "up") move(key, -1);
      else if (act === "down") move(key, 1);
      else if (act === "delete") remove(key);
      else if (act === "dismiss") {
        items.get(key).row.remove();
        items.delete(key);
      }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = form.querySelector("input[type=file]");
      const files = [...input.files];
      if (!files.length) {
        input.focus();
        return;
      }
      input.value = "";
      for (const file of files) await upload(file); // one at a time: the server numbers them in upload order
    });

    [...(initial.posters || []), ...(initial.videos || [])].forEach((p) => {
      const key = add({ poster: p });
      poll(key);
    });
  }

  // ---- gallery search: a clean, shareable URL (no empty filters, no default sort) ---------------------------
  function initGallerySearch() {
    const form = document.querySelector("form.gallery-search");
    if (!form) return;
    initFacets(form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const params = new URLSearchParams();
      new FormData(form).forEach((value, name) => {
        const text = String(value).trim();
        if (text && !(name === "sort" && text === "relevance")) params.append(name, text);
      });
      const query = params.toString();
      window.location.assign(form.getAttribute("action") + (query ? `?${query}` : ""));
    });
  }

  // ---- gallery filters: choices with counts from the facets API, refreshed as the search or a filter changes ----
  // Each list counts the projects matching the search and the *other* filters (the API's rule), so a count is what
  // choosing that value would show. The server renders the same lists for the page as loaded (and without JS).
  const FACETS = { theme: "themes", organisation: "organisations", region: "regions", tool: "tools" };

  function fillFacet(select, values) {
    const current = select.value;
    const options = [select.options[0]]; // "Any theme": always first, value ""
    values.forEach((v) => {
      const option = el("option", { value: String(v.label) }, `${v.label} (${v.count})`);
      option.selected = current !== "" && v.selected === true; // the API matched the choice, whatever its spelling
      options.push(option);
    });
    if (current !== "" && !options.some((o) => o.selected)) {
      const kept = el("option", { value: current }, current); // not listed (should not happen): keep it chosen
      kept.selected = true;
      options.push(kept);
    }
    select.replaceChildren(...options);
    if (current === "") select.value = "";
  }

  function initFacets(form) {
    const source = ownPath(form.dataset.facets);
    if (!source) return;
    const status = document.getElementById("facet-status");
    let latest = 0; // only the newest answer is shown: answers can arrive out of order
    let typing = null;

    async function refresh() {
      const ticket = ++latest;
      const params = new URLSearchParams();
      ["q", ...Object.keys(FACETS)].forEach((name) => {
        const value = form.elements[name].value.trim();
        if (value) params.set(name, value);
      });
      if (form.dataset.includeHidden) params.set("include_hidden", "1");
      let body;
      try {
        body = await api(`${source}?${params}`);
      } catch (err) {
        if (ticket === latest && status) status.textContent = ""; // the lists stay as they were; Search still works
        return;
      }
      if (ticket !== latest) return;
      Object.entries(FACETS).forEach(([name, key]) => fillFacet(form.elements[name], body[key] || []));
      if (status) {
        const total = Number(body.total) || 0;
        status.textContent = `${total} ${total === 1 ? "project matches" : "projects match"}. Press Search to show them.`;
      }
    }

    form.addEventListener("change", (event) => {
      if (Object.hasOwn(FACETS, event.target.name)) refresh();
    });
    form.elements.q.addEventListener("input", () => {
      window.clearTimeout(typing);
      typing = window.setTimeout(refresh, 300);
    });
  }

  // ---- delete project, organiser moderation -----------------------------------------------------------------
  function initDeleteProject() {
    const button = document.getElementById("delete-project");
    const project = document.getElementById("project");
    if (!button || !project) return;
    button.addEventListener("click", async () => {
      if (!window.confirm("Delete this project and all its files? This cannot be undone.")) return;
      button.disabled = true;
      try {
        await api(project.dataset.api, { method: "DELETE" });
        window.location.assign(project.dataset.event);
      } catch (err) {
        button.disabled = false;
        window.alert(`The project could not be deleted: ${err.message}`);
      }
    });
  }

  function initModeration() {
    const box = document.getElementById("moderation");
    const project = document.getElementById("project");
    if (!box || !project) return;
    box.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-moderate]");
      if (!button) return;
      const action = button.dataset.moderate;
      const reason = box.querySelector(".hide-reason")?.value.trim();
      button.disabled = true;
      try {
        if (action === "hide" && reason) await sendJson(`${project.dataset.api}/hide`, "POST", { reason });
        else await api(`${project.dataset.api}/${action}`, { method: "POST" });
        window.location.reload();
      } catch (err) {
        button.disabled = false;
        box.querySelector(".moderation-status").textContent = `Could not ${action} the project: ${err.message}`;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form.project-form").forEach(initProjectForm);
    initGallerySearch();
    initManager();
    initDeleteProject();
    initModeration();
  });
})();

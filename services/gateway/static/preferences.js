// Notification preferences page: saves the form through PUT /api/v1/me/notification-settings, and makes,
// regenerates or revokes the calendar feed address through /api/v1/me/calendar-token (window.insightApi: same
// API a script client uses, CSRF header included). Data goes into the page as text only.
"use strict";

(function () {
  function fieldFor(form, field) {
    // API field names ("categories.news.email", "digest_hour", "reminder_offsets_minutes.0") -> form control.
    if (!field) return null;
    const parts = field.split(".");
    if (parts[0] === "categories" && parts[1]) {
      const control = parts[2] === "in_app" ? `in-app-${parts[1]}` : `email-${parts[1]}`;
      return document.getElementById(control);
    }
    if (parts[0] === "digest_hour") return document.getElementById("digest-hour");
    if (parts[0] === "timezone") return document.getElementById("timezone");
    if (parts[0] === "reminder_offsets_minutes") return form.querySelector('input[name="offset"]');
    return null;
  }

  function collect(form) {
    const categories = {};
    form.querySelectorAll("tr[data-category]").forEach((row) => {
      const name = row.dataset.category;
      categories[name] = {
        in_app: document.getElementById(`in-app-${name}`).checked,
        email: document.getElementById(`email-${name}`).value,
      };
    });
    const offsets = [...form.querySelectorAll('input[name="offset"]:checked')].map((box) => Number(box.value));
    return {
      categories,
      reminder_offsets_minutes: [...new Set(offsets)],
      digest_hour: Number(document.getElementById("digest-hour").value),
      timezone: document.getElementById("timezone").value.trim(),
    };
  }

  function setupForm() {
    const form = document.getElementById("prefs-form");
    if (!form) return;
    const alertBox = form.querySelector(".form-alert");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      alertBox.hidden = true;
      form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        await window.insightApi(form.dataset.action, {
          method: "PUT",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(collect(form)),
        });
        window.insightPage.reloadWith("Your preferences are saved.");
      } catch (err) {
        const field = err.body?.error?.field;
        alertBox.textContent = window.insightPage.sentence(err.message) + (field ? ` (${field})` : "");
        alertBox.hidden = false;
        const control = fieldFor(form, field);
        if (control) {
          control.setAttribute("aria-invalid", "true");
          control.focus();
        } else {
          alertBox.focus();
        }
      } finally {
        button.disabled = false;
      }
    });

    // Offer the device's own zone when the stored one is still the default.
    const zoneInput = document.getElementById("timezone");
    const useBrowser = document.getElementById("use-browser-zone");
    let deviceZone = "";
    try {
      deviceZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      deviceZone = "";
    }
    if (deviceZone && zoneInput && useBrowser && zoneInput.value !== deviceZone) {
      useBrowser.hidden = false;
      useBrowser.textContent = `Use this device's time zone (${deviceZone})`;
      useBrowser.addEventListener("click", () => {
        zoneInput.value = deviceZone;
        zoneInput.focus();
      });
    }
  }

  function setupFeed() {
    const box = document.getElementById("calendar-feed");
    if (!box) return;
    const state = document.getElementById("feed-state");
    const message = document.getElementById("feed-message");
    const urlBox = document.getElementById("feed-url-box");
    const urlInput = document.getElementById("feed-url");
    const create = document.getElementById("feed-create");
    const revoke = document.getElementById("feed-revoke");

    function say(text, isError) {
      message.textContent = text;
      message.classList.toggle("error", Boolean(isError));
    }

    create.addEventListener("click", async () => {
      if (box.dataset.exists === "true" && !window.confirm("The old address stops working. Make a new one?")) return;
      create.disabled = true;
      try {
        const body = await window.insightApi("/api/v1/me/calendar-token", { method: "POST" });
        urlInput.value = body.url;
        urlBox.hidden = false;
        urlInput.focus();
        urlInput.select();
        box.dataset.exists = "true";
        state.textContent = "You have a feed address. Copy it now: for safety it is shown only once.";
        create.textContent = "Regenerate address";
        revoke.hidden = false;
        say("A new feed address is ready; any older one no longer works.");
      } catch (err) {
        say(window.insightPage.sentence(err.message), true);
      } finally {
        create.disabled = false;
      }
    });

    revoke.addEventListener("click", async () => {
      revoke.disabled = true;
      try {
        await window.insightApi("/api/v1/me/calendar-token", { method: "DELETE" });
        box.dataset.exists = "false";
        urlInput.value = "";
        urlBox.hidden = true;
        state.textContent = "You have no feed address.";
        create.textContent = "Create feed address";
        revoke.hidden = true;
        create.focus();
        say("The feed address is revoked: calendar apps using it get nothing any more.");
      } catch (err) {
        say(window.insightPage.sentence(err.message), true);
      } finally {
        revoke.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    window.insightPage.showFlash();
    setupForm();
    setupFeed();
  });
})();

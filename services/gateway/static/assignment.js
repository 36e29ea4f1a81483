// The organiser's Assignment page: start a run and follow it live (Socket.IO pushes relayed by app.js as
// "insight:assignment_progress" DOM events, with polling as the fallback), publish, compare, lock. Every change
// calls the public /api/v1 with the CSRF header (window.insightApi); data goes into the page as text only.
"use strict";

(function () {
  const { reloadWith: flash, showFlash } = window.insightPage; // app.js
  const root = document.getElementById("assignment");
  if (!root) return;
  const api = root.dataset.api;
  const eventId = Number(root.dataset.event);
  const status = document.getElementById("page-status");

  function showStatus(message) {
    status.textContent = message;
    status.hidden = false;
  }

  function formError(form, message) {
    const alert = form.querySelector(".form-alert");
    alert.textContent = message;
    alert.hidden = false;
    alert.focus();
  }

  const runs = window.insightRunProgress({ // run_progress.js
    eventId,
    progressEvent: "assignment_progress",
    runsUrl: `${api}/assignment-runs`,
    acceptAny: true,
  });

  document.getElementById("start-run")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const share = Number(form.org_share.value);
    if (!(share >= 1 && share <= 100)) {
      formError(form, "The organisation share must be between 1 and 100 %.");
      return;
    }
    try {
      const run = await runs.start({ org_share: share / 100, seed: Number(form.seed.value || 0) });
      showStatus(`Run ${run.id} started.`);
    } catch (err) {
      formError(form, err.message);
    }
  });

  document.querySelectorAll("button.publish").forEach((button) =>
    button.addEventListener("click", async () => {
      try {
        const done = await window.insightApi(`${api}/assignment-runs/${button.dataset.run}/publish`, { method: "POST" });
        flash(`Run ${done.id} published: ${done.people} people have their schedule.`);
      } catch (err) {
        showStatus(`Not published: ${err.message}`);
      }
    }),
  );

  document.getElementById("compare-runs")?.addEventListener("click", async () => {
    const picked = [...document.querySelectorAll('input[name="compare"]:checked')].map((i) => i.value);
    const box = document.getElementById("comparison");
    box.hidden = false;
    if (picked.length !== 2) {
      box.textContent = "Tick exactly two finished runs to compare them.";
      return;
    }
    try {
      const c = await window.insightApi(`${api}/assignment-runs/compare?a=${picked[0]}&b=${picked[1]}`);
      const [a, b] = c.runs;
      const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)} %`);
      box.textContent =
        `Run ${a.id}: ${a.quality.bound_percent} % of the bound, ${pct(a.quality.got_first)} got their 1st theme. ` +
        `Run ${b.id}: ${b.quality.bound_percent} % of the bound, ${pct(b.quality.got_first)} got their 1st theme. ` +
        `${c.people_moved} people are placed differently.`;
    } catch (err) {
      box.textContent = err.message;
    }
  });

  document.getElementById("lock-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const option = form.breakout_id.selectedOptions[0];
    if (!form.user_id.value || !option) {
      formError(form, "Give a person's user id and pick a breakout.");
      return;
    }
    try {
      await window.insightApi(`${api}/assignment-locks`, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          user_id: Number(form.user_id.value),
          slot_id: Number(option.dataset.slot),
          breakout_id: Number(option.value),
        }),
      });
      flash("Locked. The next run keeps this place.");
    } catch (err) {
      formError(form, err.message);
    }
  });

  document.querySelectorAll("button.unlock").forEach((button) =>
    button.addEventListener("click", async () => {
      try {
        await window.insightApi(`${api}/assignment-locks/${button.dataset.lock}`, { method: "DELETE" });
        flash("Unlocked.");
      } catch (err) {
        showStatus(err.message);
      }
    }),
  );

  document.addEventListener("DOMContentLoaded", () => {
    showFlash();
    runs.followUnfinished();
  });
})();

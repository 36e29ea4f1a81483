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
  const live = {
    box: document.getElementById("live-run"),
    bar: document.getElementById("live-progress"),
    stage: document.getElementById("live-stage"),
    percent: document.getElementById("live-percent"),
    runId: null,
    timer: null,
  };

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

  function show(progress) {
    if (progress.event_id !== undefined && Number(progress.event_id) !== eventId) return;
    live.box.hidden = false;
    live.bar.value = progress.progress;
    live.bar.textContent = `${progress.progress} %`;
    live.stage.textContent = progress.stage;
    live.percent.textContent = String(progress.progress);
    const row = document.querySelector(`tr[data-run="${progress.run_id}"] .run-stage`);
    if (row) row.textContent = `${progress.stage} ${progress.progress} %`;
    if (progress.status === "succeeded" || progress.status === "failed") {
      window.clearInterval(live.timer);
      flash(progress.status === "succeeded" ? `Run ${progress.run_id} finished.` : `Run ${progress.run_id} failed: see why below.`);
    }
  }

  function follow(runId) {
    live.runId = runId;
    live.box.hidden = false;
    window.clearInterval(live.timer);
    // Polling as well as the pushes: a page without a live connection still sees the run through.
    live.timer = window.setInterval(async () => {
      try {
        const run = await window.insightApi(`${api}/assignment-runs/${runId}`);
        show({ run_id: run.id, event_id: run.event_id, status: run.status, stage: run.stage, progress: run.progress });
      } catch (err) {
        console.info("progress poll failed:", err.message);
      }
    }, 2000);
  }

  document.addEventListener("insight:assignment_progress", (e) => {
    if (e.detail && (live.runId === null || e.detail.run_id === live.runId)) show(e.detail);
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
      const run = await window.insightApi(`${api}/assignment-runs`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ org_share: share / 100, seed: Number(form.seed.value || 0) }),
      });
      showStatus(`Run ${run.id} started.`);
      follow(run.id);
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
    const running = document.querySelector('tr[data-status="queued"], tr[data-status="running"]');
    if (running) follow(Number(running.dataset.run));
  });
})();

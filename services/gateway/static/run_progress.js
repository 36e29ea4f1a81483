// The live progress of a background optimisation run (assignment runs, timetable runs): the "live-run" block of
// the page (templates/_runs.html) follows one run through the Socket.IO pushes app.js relays as
// "insight:<kind>_progress" DOM events, and polls the run's status as the fallback for a page without a live
// connection. Loaded (deferred) before the feature's own script, which calls window.insightRunProgress.
"use strict";

(function () {
  const FINISHED = ["succeeded", "failed"];

  // options: eventId, progressEvent ("assignment_progress"), runsUrl (the runs' collection: POST starts one,
  // GET runsUrl/<id> is a run's status), and acceptAny (true: a push also shows while no run is followed yet, as the
  // assignment page always did). A finished run reloads the page with a flash saying so (its row shows the result).
  window.insightRunProgress = function (options) {
    const live = {
      box: document.getElementById("live-run"),
      bar: document.getElementById("live-progress"),
      stage: document.getElementById("live-stage"),
      percent: document.getElementById("live-percent"),
      runId: null,
      timer: null,
    };

    function show(progress) {
      if (progress.event_id !== undefined && Number(progress.event_id) !== options.eventId) return;
      live.box.hidden = false;
      live.bar.value = progress.progress;
      live.bar.textContent = `${progress.progress} %`;
      live.stage.textContent = progress.stage;
      live.percent.textContent = String(progress.progress);
      const row = document.querySelector(`tr[data-run="${progress.run_id}"] .run-stage`);
      if (row) row.textContent = `${progress.stage} ${progress.progress} %`;
      if (FINISHED.includes(progress.status)) {
        window.clearInterval(live.timer);
        if (!options.acceptAny) live.runId = null;
        const { run_id: id, status } = progress;
        window.insightPage.reloadWith(status === "succeeded" ? `Run ${id} finished.` : `Run ${id} failed: see why below.`);
      }
    }

    function follow(runId) {
      live.runId = runId;
      live.box.hidden = false;
      window.clearInterval(live.timer);
      // Polling as well as the pushes: a page without a live connection still sees the run through.
      live.timer = window.setInterval(async () => {
        try {
          const run = await window.insightApi(`${options.runsUrl}/${runId}`);
          show({ run_id: run.id, event_id: run.event_id, status: run.status, stage: run.stage, progress: run.progress });
        } catch (err) {
          console.info("progress poll failed:", err.message);
        }
      }, 2000);
    }

    document.addEventListener(`insight:${options.progressEvent}`, (e) => {
      if (!e.detail) return;
      if (live.runId === null ? options.acceptAny : e.detail.run_id === live.runId) show(e.detail);
    });

    // A run still queued or running when the page was loaded is followed at once.
    function followUnfinished() {
      const running = document.querySelector('tr[data-status="queued"], tr[data-status="running"]');
      if (running) follow(Number(running.dataset.run));
    }

    // Starts a run with the feature's JSON body and follows it; errors are the caller's to show.
    async function start(body) {
      const run = await window.insightApi(options.runsUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      follow(run.id);
      return run;
    }

    return { start, follow, followUnfinished };
  };
})();

// The organiser's Timetable page: start a run and follow it live (Socket.IO pushes relayed by app.js as
// "insight:timetable_progress" DOM events, with polling as the fallback); move a breakout to another slot (drag and
// drop, or its "Move to" list) and get the figures recomputed by POST .../evaluate; lock, unlock, apply. Every change
// calls the public /api/v1 with the CSRF header (window.insightApi); data goes into the page as text only.
"use strict";

(function () {
  const { reloadWith: flash, showFlash, sentence } = window.insightPage; // app.js
  const root = document.getElementById("timetable");
  if (!root) return;
  const api = root.dataset.api;
  const eventId = Number(root.dataset.event);
  const runId = root.dataset.run ? Number(root.dataset.run) : null;
  const original = JSON.parse(root.dataset.placement || "{}");
  let placement = Object.assign({}, original);
  const status = document.getElementById("page-status");

  function showStatus(message) {
    status.textContent = message;
    status.hidden = false;
  }

  function formError(form, message) {
    const alert = form.querySelector(".form-alert");
    alert.textContent = sentence(message);
    alert.hidden = false;
    alert.focus();
  }

  // ---- live progress ----------------------------------------------------------------------------------------
  const runs = window.insightRunProgress({ // run_progress.js
    eventId,
    progressEvent: "timetable_progress",
    runsUrl: `${api}/timetable-runs`,
    acceptAny: false,
  });

  document.getElementById("start-run")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const limit = Number(form.time_limit.value);
    if (!(limit >= 1 && limit <= 600)) {
      formError(form, "The time limit must be between 1 and 600 seconds.");
      return;
    }
    try {
      const run = await runs.start({ time_limit: limit, seed: Number(form.seed.value || 0) });
      showStatus(`Run ${run.id} started.`);
    } catch (err) {
      formError(form, err.message);
    }
  });

  // ---- moving breakouts and the recomputed figures ------------------------------------------------------------
  function setText(el, text) {
    if (el) el.textContent = text;
  }

  function renderFigures(figures) {
    setText(document.getElementById("share"), `${(figures.clash_free_share * 100).toFixed(1)} %`);
    setText(document.getElementById("clash-free"), String(figures.clash_free));
    const violations = document.getElementById("violations");
    if (violations) {
      violations.replaceChildren(
        ...figures.violations.map((v) => {
          const li = document.createElement("li");
          li.textContent = v;
          return li;
        }),
      );
    }
    figures.per_slot.forEach((row) => {
      const cell = document.querySelector(`td.loss[data-slot="${row.slot_id}"]`);
      if (!cell) return;
      setText(cell.querySelector(".loss-count"), String(row.people));
      cell.querySelector(".loss-reasons").replaceChildren(
        ...row.reasons.map((r) => {
          const li = document.createElement("li");
          li.textContent = r;
          return li;
        }),
      );
    });
    const edited = document.getElementById("edited");
    if (edited) edited.hidden = JSON.stringify(placement) === JSON.stringify(original);
  }

  async function moveTo(breakoutId, slotId) {
    const card = document.querySelector(`.breakout-card[data-breakout="${breakoutId}"]`);
    const rooms = [...document.querySelectorAll(`tr.slot-row[data-slot="${slotId}"] td.room`)];
    if (!card || !rooms.length || runId === null || card.closest("tr.slot-row") === rooms[0].closest("tr")) return;
    // The first free room of the slot; when all are taken, the spare column (the figures then say it is over).
    (rooms.find((td) => !td.querySelector(".breakout-card")) || rooms[rooms.length - 1]).append(card);
    card.classList.toggle("moved", original[String(breakoutId)] !== slotId);
    const select = card.querySelector("select.move-to");
    if (select) select.value = String(slotId);
    placement[String(breakoutId)] = slotId;
    try {
      renderFigures(
        await window.insightApi(`${api}/timetable-runs/${runId}/evaluate`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ placement }),
        }),
      );
    } catch (err) {
      showStatus(sentence(err.message));
    }
  }

  document.querySelectorAll("select.move-to").forEach((select) =>
    select.addEventListener("change", () => moveTo(Number(select.dataset.breakout), Number(select.value))),
  );

  document.querySelectorAll(".breakout-card[draggable='true']").forEach((card) =>
    card.addEventListener("dragstart", (e) => {
      e.dataTransfer.setData("text/plain", card.dataset.breakout);
      e.dataTransfer.effectAllowed = "move";
    }),
  );
  document.querySelectorAll("tr.slot-row").forEach((row) => {
    row.addEventListener("dragover", (e) => {
      e.preventDefault();
      row.classList.add("drop-target");
    });
    row.addEventListener("dragleave", () => row.classList.remove("drop-target"));
    row.addEventListener("drop", (e) => {
      e.preventDefault();
      row.classList.remove("drop-target");
      const id = Number(e.dataTransfer.getData("text/plain"));
      if (id) moveTo(id, Number(row.dataset.slot));
    });
  });

  document.getElementById("reset-moves")?.addEventListener("click", () => window.location.reload());

  // ---- locks and apply ----------------------------------------------------------------------------------------
  document.querySelectorAll("button.lock").forEach((button) =>
    button.addEventListener("click", async () => {
      const id = Number(button.dataset.breakout);
      const slotId = placement[String(id)] ?? Number(button.closest("tr.slot-row").dataset.slot);
      try {
        await window.insightApi(`${api}/timetable-locks`, {
          method: "PUT",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ breakout_id: id, slot_id: slotId }),
        });
        flash(`Locked "${button.closest(".breakout-card").dataset.title}". The next run keeps it there.`);
      } catch (err) {
        showStatus(sentence(err.message));
      }
    }),
  );

  document.querySelectorAll("button.unlock").forEach((button) =>
    button.addEventListener("click", async () => {
      try {
        await window.insightApi(`${api}/timetable-locks/${button.dataset.breakout}`, { method: "DELETE" });
        flash("Unlocked.");
      } catch (err) {
        showStatus(sentence(err.message));
      }
    }),
  );

  document.getElementById("apply-run")?.addEventListener("click", async (e) => {
    const id = e.currentTarget.dataset.run;
    try {
      const done = await window.insightApi(`${api}/timetable-runs/${id}/apply`, { method: "POST" });
      flash(`Run ${done.id} applied: ${done.moved} breakouts moved. Run the assignment next.`);
    } catch (err) {
      showStatus(`Not applied: ${sentence(err.message)}`);
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    showFlash();
    runs.followUnfinished();
  });
})();

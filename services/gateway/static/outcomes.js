// Outcome report charts: each <canvas data-chart=NAME> draws the figures of the table with id NAME (the table stays
// as the accessible version). Hidden figures ("<5") are left out of the bars rather than drawn as zero.
(function () {
  "use strict";

  function rowsOf(table) {
    return Array.from(table.querySelectorAll("tbody tr")).map(function (tr) {
      var cells = tr.querySelectorAll("td");
      return { label: tr.querySelector("th") ? tr.querySelector("th").textContent.trim() : "", cells: cells };
    });
  }

  function numeric(td) {
    var raw = td.getAttribute("data-value");
    if (raw === null) raw = td.textContent.trim();
    return /^\d+$/.test(raw) ? Number(raw) : null;
  }

  function draw(canvas) {
    var table = document.getElementById(canvas.getAttribute("data-chart"));
    if (!table || typeof window.Chart === "undefined") { canvas.hidden = true; return; }
    var rows = rowsOf(table).filter(function (r) { return r.label !== "all weeks" && r.cells.length > 0; });
    var header = Array.from(table.querySelectorAll("thead th")).slice(1).map(function (th) { return th.textContent.trim(); });
    var datasets = header.map(function (name, i) {
      return { label: name, data: rows.map(function (r) { return numeric(r.cells[i]); }) };
    });
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: rows.map(function (r) { return r.label; }), datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        indexAxis: canvas.getAttribute("data-chart") === "funnel" ? "y" : "x",
        plugins: { legend: { display: datasets.length > 1 } },
        scales: { x: { beginAtZero: true }, y: { beginAtZero: true } },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();

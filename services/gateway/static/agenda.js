// The agenda's "now / next" banner moves along with the clock: every 30 s it is recomputed from the times in the
// page (UTC in data attributes, local time already formatted by the server), so a page left open stays right.
"use strict";

(function () {
  function items() {
    return Array.from(document.querySelectorAll("#agenda .agenda-item")).map((node) => ({
      node,
      starts: Date.parse(node.dataset.starts),
      ends: Date.parse(node.dataset.ends),
      title: node.dataset.title,
      span: node.dataset.span,
      startLocal: node.dataset.startLocal,
      mine: node.dataset.mine === "1",
    }));
  }

  function refresh() {
    const banner = document.getElementById("now-next");
    if (!banner) return;
    const now = Date.now();
    const all = items();
    const dayStarts = Date.parse(banner.dataset.dayStarts);
    const dayEnds = Date.parse(banner.dataset.dayEnds);
    all.forEach((i) => i.node.classList.toggle("agenda-now", i.starts <= now && now < i.ends));
    const on = all.filter((i) => i.starts <= now && now < i.ends);
    const coming = all.filter((i) => i.starts > now).sort((a, b) => a.starts - b.starts || b.mine - a.mine);
    let nowText;
    if (now < dayStarts) nowText = "The day has not started yet.";
    else if (now >= dayEnds) nowText = "The day has ended. Thank you for taking part.";
    else if (on.length) nowText = on.map((i) => `${i.title} (${i.span})`).join("; ");
    else nowText = "A break.";
    const nextText = coming.length ? `${coming[0].title} at ${coming[0].startLocal}` : "Nothing more today.";
    const nowNode = document.getElementById("now-text");
    const nextNode = document.getElementById("next-text");
    if (nowNode.textContent !== nowText) nowNode.textContent = nowText;
    if (nextNode.textContent !== nextText) nextNode.textContent = nextText;
  }

  document.addEventListener("DOMContentLoaded", () => {
    refresh();
    window.setInterval(refresh, 30000);
  });
})();

// Mail problems page: the resend buttons call the public API (CSRF header via window.insightApi), then reload.
"use strict";

(function () {
  const { reloadWith, showFlash, sentence } = window.insightPage; // app.js
  showFlash();
  document.querySelectorAll("button.resend-email").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await window.insightApi(button.dataset.action, { method: "POST" });
        reloadWith("The mail is queued again.");
      } catch (err) {
        button.disabled = false;
        const status = document.getElementById("page-status");
        status.hidden = false;
        status.textContent = sentence(err.message);
      }
    });
  });
})();

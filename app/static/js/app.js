// Small conveniences on top of htmx; every page works without this file.
(function () {
  "use strict";

  function setCsrfToken(token) {
    if (!token) return;
    document.body.dataset.csrfToken = token;
    document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRF-Token": token }));
    document.querySelectorAll('input[name="csrf_token"]').forEach(function (input) {
      input.value = token;
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    // After "log in again" the page keeps everything typed; only its CSRF token changes.
    var done = event.detail.target.querySelector("[data-relogin-done]");
    if (done) {
      setCsrfToken(done.dataset.csrfToken);
      document.dispatchEvent(new CustomEvent("dyade:relogin"));
      setTimeout(function () { done.remove(); }, 6000);
    }
    var dialog = event.detail.target.querySelector(".dialog input[type=email]");
    if (dialog) dialog.focus();
    var summary = event.detail.target.querySelector(".error-summary");
    if (summary) summary.focus();
  });
})();

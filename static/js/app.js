// Small progressive enhancements. No inline handlers, no eval: CSP allows only 'self' scripts.
(function () {
  "use strict";

  // Signup: guess the time zone from the browser; the server validates it.
  document.querySelectorAll("[data-guess-time-zone]").forEach(function (input) {
    if (!input.value) {
      try {
        input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
      } catch (e) { /* keep the server default */ }
    }
  });

  // Toasts: dismiss on click; informational ones fade after a while.
  document.addEventListener("click", function (event) {
    var close = event.target.closest(".toast__close");
    if (close) { close.closest(".toast").remove(); }
  });

  // A page restored from the back/forward cache may be stale (e.g. after logout): reload it.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });
})();

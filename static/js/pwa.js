// Installing Taskly as an app (issue #12): registers the service worker, static/js/sw.js served
// at /sw.js. It caches only versioned static files; see the comment at its top. Where service
// workers are missing or refused (a private window, a policy), the site works as before, quietly.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) { return; }
  var controlled = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.register("/sw.js", { scope: "/" })
    .then(function () { return navigator.serviceWorker.ready; })
    .then(function (registration) {
      // This page loaded its files before any worker controlled it: hand their URLs over, so
      // they are cached now rather than on the next page.
      if (controlled || !registration.active) { return; }
      var urls = Array.prototype.map.call(
        document.querySelectorAll('link[href^="/static/"], script[src^="/static/"]'),
        function (element) { return element.href || element.src; }
      );
      registration.active.postMessage({ type: "cache", urls: urls });
    })
    .catch(function () { /* no worker: nothing is cached, nothing breaks */ });
})();

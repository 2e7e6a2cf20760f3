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

// Settings → Notifications: "Notify this device" asks for permission, subscribes this browser
// to its push service with Taskly's VAPID key, and posts the subscription as a plain form (the
// server checks the push service's address before keeping it). Every way it can fail says so.
(function () {
  "use strict";
  var form = document.querySelector("[data-push-form]");
  if (!form) { return; }
  var button = form.querySelector("[data-push-subscribe]");
  var status = form.querySelector("[data-push-status]");
  function say(text) { status.textContent = text; }
  function key(base64url) {
    var text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - base64url.length % 4) % 4));
    return Uint8Array.from(text, function (c) { return c.charCodeAt(0); });
  }
  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  if (!supported) {
    button.disabled = true;
    say("This browser cannot show notifications from websites. On an iPhone or iPad, add Taskly to the Home Screen and open it from there.");
    return;
  }
  if (Notification.permission === "denied") {
    say("Notifications are blocked for Taskly in this browser. Allow them in the site's settings (the icon beside the address), then press the button again.");
  } else {
    navigator.serviceWorker.ready
      .then(function (registration) { return registration.pushManager.getSubscription(); })
      .then(function (subscription) { if (subscription) { say("This browser is subscribed."); } })
      .catch(function () { /* unknown: the button still tries */ });
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    say("Asking this browser for permission…");
    Promise.resolve(Notification.requestPermission())
      .then(function (permission) {
        if (permission !== "granted") {
          throw new Error(permission === "denied"
            ? "Notifications are blocked for Taskly in this browser. Allow them in the site's settings (the icon beside the address), then press the button again."
            : "Permission was not given, so nothing changed. Press the button again to be asked once more.");
        }
        say("Subscribing this browser…");
        return navigator.serviceWorker.ready.then(function (registration) {
          return registration.pushManager.subscribe({
            userVisibleOnly: true, applicationServerKey: key(form.dataset.serverKey)
          }).catch(function (error) {
            throw new Error("This browser could not reach its push service (" + (error && error.message || "no reason given") + "). Check the connection and try again.");
          });
        });
      })
      .then(function (subscription) {
        var data = subscription.toJSON();
        form.elements.endpoint.value = data.endpoint;
        form.elements.p256dh.value = data.keys.p256dh;
        form.elements.auth.value = data.keys.auth;
        say("Saving…");
        form.submit();
      })
      .catch(function (error) {
        button.disabled = false;
        say(error.message);
      });
  });
})();

// The Remind me form's "This device's notifications" (templates/partials/_channels.html): the
// server knows this browser only by its push subscription, so the form carries the endpoint.
// No subscription (or no push at all): the box is unticked and disabled, and a hint says where
// to turn notifications on. Forms arrive by htmx too, hence htmx:load as well as page load.
(function () {
  "use strict";
  function subscription() {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) { return Promise.resolve(null); }
    return navigator.serviceWorker.getRegistration("/")
      .then(function (registration) { return registration ? registration.pushManager.getSubscription() : null; })
      .catch(function () { return null; });
  }
  function prepare(root) {
    var fields = (root.querySelectorAll ? root : document).querySelectorAll("[data-push-endpoint]");
    if (!fields.length) { return; }
    subscription().then(function (current) {
      Array.prototype.forEach.call(fields, function (field) {
        var fieldset = field.closest("fieldset") || field.form;
        var label = fieldset.querySelector("[data-this-device]");
        var box = label && label.querySelector("input");
        var hint = fieldset.querySelector("[data-this-device-hint]");
        if (current) {
          field.value = current.endpoint;
          return;
        }
        if (box) { box.checked = false; box.disabled = true; }
        if (hint) { hint.hidden = false; }
      });
    });
  }
  document.addEventListener("htmx:load", function (event) { prepare(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { prepare(document); });
  } else {
    prepare(document);
  }
})();

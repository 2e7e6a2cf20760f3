// Taskly's service worker (issue #12). Served at /sw.js by taskly/core/routes.py, so its scope
// is the whole site; static/js/pwa.js registers it.
//
// It caches ONLY the versioned static files, /static/...?v=<content digest> (see asset() in
// taskly/templating.py): one URL never changes content, so they are answered cache-first.
// Every other request (pages, fragments, forms, avatars, the manifest) gets no respondWith:
// the browser goes to the network exactly as it would without a worker, and nothing private is
// ever stored here. Pages are sent with Cache-Control: no-store, so Back after logout asks the
// server again and lands on the login page.
"use strict";

// Bump the number to drop every stored file when the new worker activates.
var CACHE = "taskly-static-v1";

function isVersionedAsset(url) {
  return url.origin === self.location.origin &&
    url.pathname.startsWith("/static/") && url.searchParams.has("v");
}

// Store a response under its URL, and drop the same file's older versions: the cache holds one
// copy of each file, however many deploys come and go.
async function store(cache, request, response) {
  if (!response.ok || response.type !== "basic") { return; }
  var path = new URL(request.url).pathname;
  var stale = (await cache.keys()).filter(function (old) {
    return old.url !== request.url && new URL(old.url).pathname === path;
  });
  await Promise.all(stale.map(function (old) { return cache.delete(old); }));
  await cache.put(request, response);
}

async function cacheFirst(request) {
  var cache = await caches.open(CACHE);
  var hit = await cache.match(request);
  if (hit) { return hit; }
  var response = await fetch(request);
  await store(cache, request, response.clone()).catch(function () { /* quota: serve it anyway */ });
  return response;
}

// The first page loads its files before this worker controls it: pwa.js sends their URLs so
// they are cached from the first visit, not the second.
async function cacheUrls(urls) {
  var cache = await caches.open(CACHE);
  for (var i = 0; i < urls.length && i < 50; i++) {
    var request = new Request(new URL(String(urls[i]), self.location.href));
    if (!isVersionedAsset(new URL(request.url)) || await cache.match(request)) { continue; }
    try {
      await store(cache, request, await fetch(request));
    } catch (e) { /* offline or gone: it is cached when a page next asks for it */ }
  }
}

// Where the browser has the static routing API (Chromium), everything but static files goes
// to the network without waking this worker at all: opening a page costs no worker start-up.
// Elsewhere the fetch listener below lets those requests pass just the same.
function routeAroundWorker(event) {
  if (typeof event.addRoutes !== "function") { return Promise.resolve(); }
  return event.addRoutes({
    condition: { not: { urlPattern: { pathname: "/static/*" } } },
    source: "network",
  }).catch(function () { /* a rule this browser cannot read: the fetch listener decides */ });
}

self.addEventListener("install", function (event) {
  // Nothing to take over carefully: pages are never served from here, and stored files are
  // addressed by their content, so a new worker can start at once.
  event.waitUntil(Promise.all([self.skipWaiting(), routeAroundWorker(event)]));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) { return name !== CACHE; })
          .map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  if (event.request.method !== "GET") { return; }
  if (!isVersionedAsset(new URL(event.request.url))) { return; }  // the network, untouched
  event.respondWith(cacheFirst(event.request));
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "cache" && Array.isArray(data.urls)) {
    event.waitUntil(cacheUrls(data.urls));
  }
});

// Web Push (issue #12): a reminder or a test arrives as JSON {title, body, url, tag, timestamp,
// actions: [{action, title, url}]}; the notification opens `url` (a path on this site) when
// tapped. A reminder's actions are Done and Snooze 1 hour, each a signed single-use link
// (/m/<token>, the ones the reminder mail carries): tapping one posts to it from here, with no
// cookies and no window opened, so it works from the lock screen. The server answers 204, or
// {error} (already used, expired, task gone), which is shown as a notification of its own.
// None of this touches the fetch handling above.
function sitePath(value) {
  return typeof value === "string" && value.charAt(0) === "/" && value.charAt(1) !== "/";
}

self.addEventListener("push", function (event) {
  var message = {};
  try { message = event.data ? event.data.json() : {}; } catch (e) { message = {}; }
  var title = typeof message.title === "string" && message.title ? message.title : "Taskly";
  var actions = (Array.isArray(message.actions) ? message.actions : []).filter(function (a) {
    return a && typeof a.action === "string" && typeof a.title === "string" && sitePath(a.url);
  }).slice(0, 2);
  var links = {};
  actions.forEach(function (a) { links[a.action] = a.url; });
  var options = {
    body: typeof message.body === "string" ? message.body : "",
    tag: typeof message.tag === "string" ? message.tag : undefined,
    icon: "/static/icons/icon-192.png",
    actions: actions.map(function (a) { return { action: a.action, title: a.title }; }),
    data: { url: sitePath(message.url) ? message.url : "/", links: links }
  };
  if (typeof message.timestamp === "number") { options.timestamp = message.timestamp; }
  event.waitUntil(self.registration.showNotification(title, options));
});

// Done / Snooze: post to the signed link; a refusal becomes a notification saying why.
function act(url, title) {
  return fetch(new URL(url, self.location.origin).href, {
    method: "POST", credentials: "omit", headers: { Accept: "application/json" }
  }).then(function (response) {
    if (response.ok) { return null; }
    return response.json().catch(function () { return {}; }).then(function (answer) {
      return self.registration.showNotification(title, {
        body: answer && typeof answer.error === "string" ? answer.error : "That did not work. Open Taskly to try again.",
        icon: "/static/icons/icon-192.png", tag: "taskly-action"
      });
    });
  }).catch(function () {
    return self.registration.showNotification(title, {
      body: "Taskly could not be reached. Open it to try again.",
      icon: "/static/icons/icon-192.png", tag: "taskly-action"
    });
  });
}

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var data = event.notification.data || {};
  var link = event.action && data.links && data.links[event.action];
  if (link) {
    event.waitUntil(act(link, event.notification.title));
    return;
  }
  var url = new URL(data.url || "/", self.location.origin).href;
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (windows[i].url === url && "focus" in windows[i]) { return windows[i].focus(); }
    }
    return self.clients.openWindow(url);
  }));
});

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

// Toasts leave by themselves (an Undo toast after 10 s), but never while pointed at or focused.
(function () {
  "use strict";
  function schedule(toast) {
    if (toast.dataset.timer) { return; }
    toast.dataset.timer = "1";
    var wait = toast.hasAttribute("data-undo") ? 10000 : 6000;
    (function check() {
      window.setTimeout(function () {
        if (toast.matches(":hover, :focus-within")) { check(); } else { toast.remove(); }
      }, wait);
    })();
  }
  var narrow = window.matchMedia("(max-width: 37.5rem)");
  function scan() {
    // One Undo toast at a time: a newer undoable action replaces it (u still undoes the latest).
    var undos = document.querySelectorAll("#toasts .toast[data-undo]");
    for (var u = 0; u < undos.length - 1; u++) { undos[u].remove(); }
    // The same message twice (e.g. "Could not reach Taskly" on every retry) shows once.
    var seen = {};
    var all = Array.prototype.slice.call(document.querySelectorAll("#toasts .toast")).reverse();
    all.forEach(function (toast) {
      var text = toast.querySelector("p") ? toast.querySelector("p").textContent : "";
      if (seen[text]) { toast.remove(); } else { seen[text] = true; }
    });
    var toasts = document.querySelectorAll("#toasts .toast");
    var most = narrow.matches ? 2 : 3; // a phone has less room to spare
    for (var i = 0; i < toasts.length - most; i++) { toasts[i].remove(); } // oldest first
    document.querySelectorAll("#toasts .toast").forEach(schedule);
  }
  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:afterSettle", scan);

  // A corner where the toasts cover neither the focused card (or field) nor an open form.
  var CORNERS = [[], ["toasts--left"], ["toasts--top"], ["toasts--top", "toasts--left"]];
  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }
  function guarded() {
    var rects = [];
    var active = document.activeElement;
    if (active && active !== document.body && !active.closest("#toasts")) {
      rects.push((active.closest(".task-card, form, dialog") || active).getBoundingClientRect());
    }
    document.querySelectorAll(".task-card--editing, .task-actions:popover-open").forEach(function (el) {
      rects.push(el.getBoundingClientRect());
    });
    return rects;
  }
  function place() {
    var region = document.getElementById("toasts");
    if (!region || !region.querySelector(".toast")) { return; }
    var rects = guarded();
    for (var i = 0; i < CORNERS.length; i++) {
      region.classList.remove("toasts--top", "toasts--left");
      CORNERS[i].forEach(function (name) { region.classList.add(name); });
      var box = region.getBoundingClientRect();
      if (!rects.some(function (rect) { return overlaps(box, rect); })) { return; }
    }
    region.classList.remove("toasts--top", "toasts--left"); // nowhere free: the usual corner
  }
  var queued = false;
  function placeSoon() {
    if (queued) { return; }
    queued = true;
    window.requestAnimationFrame(function () { queued = false; place(); });
  }
  ["focusin", "resize", "toggle", "htmx:afterSettle", "DOMContentLoaded"].forEach(function (name) {
    document.addEventListener(name, placeSoon, true);
  });
  window.addEventListener("resize", placeSoon);
  document.addEventListener("scroll", placeSoon, true);
  new MutationObserver(placeSoon).observe(document.getElementById("toasts") || document.body, { childList: true });

  // A request that never reached the server: say so where the user is looking.
  document.addEventListener("htmx:sendError", function () {
    var region = document.getElementById("toasts");
    if (!region) { return; }
    var toast = document.createElement("div");
    toast.className = "toast toast--error";
    toast.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = "Could not reach Taskly. Check your connection and try again.";
    toast.appendChild(text);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast__close";
    close.setAttribute("aria-label", "Dismiss");
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    var use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", "#i-close");
    svg.appendChild(use);
    close.appendChild(svg);
    toast.appendChild(close);
    region.appendChild(toast);
    scan();
  });
})();

// The profile picture: choose, drop or paste a file; a preview shows before saving. The
// server decides what the file is; this only saves a round trip for a file that is too big.
(function () {
  "use strict";
  var zone = document.querySelector("[data-picture-drop]");
  if (!zone) { return; }
  var input = zone.querySelector("input[type=file]");
  var preview = zone.querySelector("[data-picture-preview]");
  var hint = document.getElementById("picture-hint");
  var MAX = 2 * 1024 * 1024;
  var url = null;
  function show(file) {
    var old = document.getElementById("picture-client-error");
    if (old) { old.remove(); }
    if (file.size > MAX) {
      var error = document.createElement("p");
      error.className = "field-error";
      error.id = "picture-client-error";
      error.textContent = "That picture is larger than 2 MB. Choose a smaller one.";
      hint.after(error);
      input.value = "";
      return;
    }
    if (url) { URL.revokeObjectURL(url); }
    url = URL.createObjectURL(file);
    var img = document.createElement("img");
    img.className = "avatar";
    img.width = 96; img.height = 96;
    img.alt = "Preview of your new picture (not saved yet)";
    img.src = url;
    preview.replaceChildren(img);
  }
  function take(files) {
    if (!files || !files.length) { return; }
    var transfer = new DataTransfer();
    transfer.items.add(files[0]);
    input.files = transfer.files;
    show(files[0]);
  }
  input.addEventListener("change", function () { if (input.files.length) { show(input.files[0]); } });
  zone.addEventListener("dragover", function (event) {
    event.preventDefault(); zone.classList.add("picture-field--over");
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("picture-field--over"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault(); zone.classList.remove("picture-field--over");
    take(event.dataTransfer.files);
  });
  document.addEventListener("paste", function (event) {
    var files = event.clipboardData && event.clipboardData.files;
    if (files && files.length && /^image\//.test(files[0].type)) { event.preventDefault(); take(files); }
  });
})();

// New task: what quick add understood, under the field, while typing. Plain fetch rather than
// hx-get: a preview overtaken by the next key, by Enter or by leaving the page is simply
// abandoned (AbortController), where htmx reports every aborted request as an error.
(function () {
  "use strict";
  var input = document.querySelector("#new-task[data-preview]");
  var out = document.getElementById("quick-add-preview");
  if (!input || !out) { return; }
  var timer = null;
  var running = null;
  function cancel() {
    window.clearTimeout(timer);
    if (running) { running.abort(); running = null; }
  }
  input.addEventListener("input", function () {
    cancel();
    timer = window.setTimeout(function () {
      running = new AbortController();
      var url = input.dataset.preview + "?title=" + encodeURIComponent(input.value);
      fetch(url, { headers: { "HX-Request": "true" }, signal: running.signal, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) { out.innerHTML = html; })
        .catch(function () { /* abandoned or offline: the preview is only a help */ });
    }, 150);
  });
  input.form.addEventListener("submit", cancel);
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt === input.form) { cancel(); }
  });
  window.addEventListener("pagehide", cancel);
})();

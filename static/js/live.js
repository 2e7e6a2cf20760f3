// The live board: keeps this board in step with every other tab and device (issue #13).
// Plain EventSource, not the htmx SSE extension: an event here is not one swap but a set of
// cards to place by bucket and position, around what the user is doing (a card being edited is
// left alone, focus follows keys.js's rules), which needs the keyboard layer's help anyway.
// CSP-clean: no inline code, no eval.
(function () {
  "use strict";

  var source = null;
  var url = null;
  var seen = null; // the last change number received
  var queue = []; // events waiting for this tab's own requests to settle
  var busy = 0;
  var retry = 0;
  var downTimer = null;

  function $(selector, root) { return (root || document).querySelector(selector); }
  function status(message) {
    var box = document.getElementById("live-status");
    if (!box) { return; }
    box.textContent = message || "";
    box.hidden = !message;
  }
  function announce(message) {
    var region = document.getElementById("announce");
    if (region) { region.textContent = message; }
  }

  // ---- placing one card ----------------------------------------------------------------

  function key(card) { return [parseFloat(card.dataset.position), parseInt(card.id.slice(5), 10)]; }
  function before(a, b) { return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]); }
  // What a card shows, less its age ("Age 3s" moves on by itself): two renderings of one
  // state compare equal, so this tab's own changes coming back change nothing.
  function signature(card) {
    var copy = card.cloneNode(true);
    var meta = copy.querySelector(".task-card__meta");
    var last = meta && meta.lastElementChild;
    if (last && /^(Age|Took) /.test(last.textContent)) { last.remove(); }
    return [card.dataset.status, card.dataset.position, card.dataset.version,
      copy.textContent.replace(/\s+/g, " ").trim()].join("|");
  }
  function same(a, b) { return signature(a) === signature(b); }
  // An event made before this tab's latest answer about the card: older than what it shows.
  function older(incoming, existing) {
    return parseInt(incoming.dataset.version, 10) < parseInt(existing.dataset.version, 10);
  }

  // Where `card` goes in its bucket's list: before the first card after it. Past the last card
  // this page has loaded (the "Show more" link's cursor) it is left to that next page, which
  // then brings it once: null.
  function slot(card) {
    var list = document.getElementById("list-" + card.dataset.status);
    if (!list) { return null; }
    var mine = key(card);
    var more = $(":scope > .bucket__more", list);
    if (more) {
      var cursor = (/[?&]after=([^&]*)/.exec($("[data-more]", more).getAttribute("href")) || [])[1];
      var parts = decodeURIComponent(cursor || "").split(":");
      if (parts.length === 2 && before([parseFloat(parts[0]), parseInt(parts[1], 10)], mine)) { return null; }
    }
    var cards = list.querySelectorAll(":scope > .task-card");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i].id !== card.id && before(mine, key(cards[i]))) { return { list: list, next: cards[i] }; }
    }
    return { list: list, next: more };
  }

  function notice(existing, deleted) {
    if ($(".live-notice", existing)) { return; }
    var box = document.createElement("p");
    box.className = "live-notice";
    box.setAttribute("role", "status");
    box.textContent = deleted ? "Deleted elsewhere: copy what you typed if you need it." : "Changed elsewhere. ";
    if (!deleted) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn--small";
      button.textContent = "Reload card";
      button.addEventListener("click", function () {
        window.htmx.ajax("GET", "/tasks/" + existing.id.slice(5), { target: existing, swap: "outerHTML" });
      });
      box.appendChild(button);
    }
    var form = $("form", existing) || existing;
    form.insertBefore(box, form.firstChild);
  }

  // One card from an event: replaced, moved, added or removed. Returns whether anything
  // changed, and where focus must go if the focused card left its place.
  function apply(id, incoming, result) {
    var existing = document.getElementById("task-" + id);
    if (existing && existing.classList.contains("task-card--editing")) {
      notice(existing, !incoming);
      result.changed++;
      return;
    }
    if (existing && incoming && (same(existing, incoming) || older(incoming, existing))) { return; }
    var where = incoming ? slot(incoming) : null;
    var focused = existing && existing.contains(document.activeElement);
    var stays = existing && where && existing.dataset.status === incoming.dataset.status &&
      where.next === existing.nextElementSibling;
    if (focused && !stays) { result.focus = window.tasklyKeys.afterRemoval(existing); }
    if (!existing && !where) { return; }
    result.changed++;
    if (existing) { existing.remove(); }
    if (!where) { return; }
    where.list.insertBefore(incoming, where.next);
    window.htmx.process(incoming);
    if (focused && stays) { incoming.focus({ preventScroll: true }); }
  }

  function handle(event) {
    var holder = document.createElement("template");
    holder.innerHTML = event.data;
    var result = { changed: 0, focus: null };
    holder.content.querySelectorAll("template[data-live-card]").forEach(function (t) {
      var card = t.content.querySelector(".task-card");
      var existing = !card && document.getElementById("task-" + t.dataset.liveCard);
      // Gone, as of a version older than the card shown here (deleted, then restored by
      // this tab's Undo before the event came): the page is newer.
      if (existing && t.dataset.version && older(t, existing)) { return; }
      apply(t.dataset.liveCard, card, result);
      t.remove();
    });
    // Counts and stats, out of band, as any htmx response carries them (replaced here: an
    // htmx swap on the page would move focus away from what the user is typing in).
    holder.content.querySelectorAll("[hx-swap-oob]").forEach(function (part) {
      var current = document.getElementById(part.id);
      if (!current) { return; }
      part.removeAttribute("hx-swap-oob");
      current.replaceWith(part);
      window.htmx.process(part);
    });
    if (result.focus) { window.tasklyKeys.land(result.focus); }
    if (result.changed) {
      announce(result.changed === 1 ? "A task changed elsewhere." : result.changed + " tasks changed elsewhere.");
    }
  }

  function refetch() {
    var active = document.activeElement && document.activeElement.closest(".task-card");
    var focusId = active ? active.id : null;
    window.htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#board", swap: "outerHTML" })
      .then(function () {
        var card = focusId && document.getElementById(focusId);
        if (card) { card.focus({ preventScroll: true }); }
      });
  }

  // ---- waiting for this tab's own requests ----------------------------------------------

  function dragging() { return !!$(".sortable-chosen"); }
  function drain() {
    if (busy > 0 || dragging()) { return; }
    var events = queue;
    queue = [];
    events.forEach(function (event) { if (event.type === "refetch") { refetch(); } else { handle(event); } });
  }
  function receive(event) {
    if (window.tasklyTrace) { console.log("~ live", event.type, event.lastEventId, "busy", busy); }
    seen = event.lastEventId || seen;
    queue.push(event);
    drain();
  }
  // Counted from the XHR itself: loadend follows every request that was sent (answered,
  // failed or aborted), after htmx has swapped; the delay lets the settle (and keys.js's
  // focus) finish first.
  document.addEventListener("htmx:beforeSend", function (event) {
    busy++;
    event.detail.xhr.addEventListener("loadend", function () {
      window.setTimeout(function () { busy = Math.max(0, busy - 1); drain(); }, 40);
    });
  });
  document.addEventListener("pointerup", function () { window.setTimeout(drain, 60); });

  // ---- the connection --------------------------------------------------------------------

  function streamUrl(board) {
    var base = board.dataset.live;
    if (seen === null) { return base; }
    return base.replace(/([?&])since=\d*/, "$1since=" + seen);
  }

  function close() {
    if (source) { source.close(); source = null; }
  }

  function open(board) {
    close();
    url = board.dataset.live;
    source = new EventSource(streamUrl(board));
    source.addEventListener("open", function () {
      retry = 0;
      window.clearTimeout(downTimer);
      downTimer = null;
      status("");
    });
    source.addEventListener("change", receive);
    source.addEventListener("refetch", receive);
    source.addEventListener("logout", function () {
      close();
      status("You were logged out. Reload the page to log in again.");
    });
    source.addEventListener("error", function () {
      // Offline, or the server restarting: the browser reconnects by itself (with
      // Last-Event-ID); a refusal (a closed source) is retried here, more slowly each time.
      if (!downTimer) {
        downTimer = window.setTimeout(function () {
          status("Live updates paused: reconnecting…");
        }, 2500);
      }
      if (source && source.readyState === EventSource.CLOSED) {
        retry = Math.min(retry + 1, 6);
        var again = board;
        window.setTimeout(function () { if (again.isConnected && !source) { open(again); } }, 1000 * Math.pow(2, retry));
        source = null;
      }
    });
  }

  function start() {
    var board = document.getElementById("board");
    if (!board || !board.dataset.live || !window.EventSource) { return; }
    // A new board (a search, a refetch) with another search: a new stream for it.
    if (!source || board.dataset.live.split("?")[1].replace(/since=\d*&?/, "") !==
        (url || "").split("?")[1].replace(/since=\d*&?/, "")) {
      if (source || url) { seen = null; }
      open(board);
    }
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail && event.detail.elt && event.detail.elt.id === "board") { start(); }
  });
  window.addEventListener("pagehide", close);
  window.addEventListener("pageshow", function (event) { if (event.persisted) { start(); } });
})();

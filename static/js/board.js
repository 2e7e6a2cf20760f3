// The board's pointer and touch layer: each card's "⋯" menu. Plain JavaScript, CSP-clean.
// Actions still go through the same forms and routes as without JavaScript; this file only
// builds the menu a card needs, when it needs it (cards stay small).
(function () {
  "use strict";

  var template = document.getElementById("card-menu");

  // The card's actions form (built once from the #card-menu template, then kept in the card):
  // the menu "⋯" opens, and what keys.js presses.
  function menu(card) {
    var form = card.querySelector(".task-actions");
    if (form || !template) { return form; }
    var id = card.id.replace("task-", "");
    form = template.content.firstElementChild.cloneNode(true);
    [form].concat(Array.prototype.slice.call(form.querySelectorAll("[formaction], [href]"))).forEach(function (el) {
      ["action", "formaction", "href"].forEach(function (name) {
        var value = el.getAttribute(name);
        if (value) { el.setAttribute(name, value.replace(/^\/tasks\/0(?=\/|$)/, "/tasks/" + id)); }
      });
    });
    var status = card.dataset.status;
    form.querySelector('[name="shown_in"]').value = status;
    form.querySelectorAll('button[name="status"]').forEach(function (button) {
      var current = button.value === status;
      button.setAttribute("aria-pressed", String(current));
      button.disabled = current;
    });
    form.querySelectorAll("button, a").forEach(function (el) { el.tabIndex = -1; });
    form.id = "menu-" + id;
    form.setAttribute("popover", "auto");
    form.setAttribute("aria-label", "Actions");
    card.appendChild(form);
    form.addEventListener("toggle", function (event) {
      var more = card.querySelector("[data-menu]");
      if (more) { more.setAttribute("aria-expanded", String(event.newState === "open")); }
      var active = document.activeElement;
      if (event.newState === "closed" && (form.contains(active) || active === more)) { card.focus(); }
    });
    if (window.htmx) { window.htmx.process(form); }
    return form;
  }

  function items(form) {
    return Array.prototype.filter.call(form.querySelectorAll(".task-actions__item"),
      function (el) { return !el.disabled; });
  }

  function openMenu(card, anchor) {
    var form = menu(card);
    if (!form || !form.showPopover) { return false; }
    form.showPopover();
    var box = anchor.getBoundingClientRect();
    var width = form.offsetWidth;
    var height = form.offsetHeight;
    var left = Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8));
    var top = box.bottom + 4;
    if (top + height > window.innerHeight - 8) { top = Math.max(8, box.top - height - 4); }
    form.style.left = left + "px";
    form.style.top = top + "px";
    var first = items(form)[0];
    if (first) { first.focus(); }
    return true;
  }

  document.addEventListener("click", function (event) {
    var more = event.target.closest && event.target.closest("[data-menu]");
    if (!more) { return; }
    var card = more.closest(".task-card");
    // Capturing, before htmx's boost sees the link (which leads to the card page).
    if (card && openMenu(card, more)) { event.preventDefault(); event.stopPropagation(); }
  }, true);

  // Inside an open menu: arrows move between its items, Tab leaves it closed.
  document.addEventListener("keydown", function (event) {
    var form = event.target.closest && event.target.closest(".task-actions[popover]");
    if (!form) { return; }
    var list = items(form);
    var i = list.indexOf(event.target);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var next = list[(i + (event.key === "ArrowDown" ? 1 : list.length - 1)) % list.length];
      if (next) { next.focus(); }
      event.preventDefault();
    } else if (event.key === "Home" || event.key === "End") {
      list[event.key === "Home" ? 0 : list.length - 1].focus();
      event.preventDefault();
    } else if (event.key === "Tab") {
      form.hidePopover();
    }
  });

  // A menu belongs to where the card was: scrolling the board closes it.
  document.addEventListener("scroll", function (event) {
    if (event.target.closest && event.target.closest(".task-actions")) { return; }
    document.querySelectorAll(".task-actions[popover]:popover-open").forEach(function (form) {
      form.hidePopover();
    });
  }, true);

  // ---- Long buckets: each redraw asks for as many cards as the page shows. ----
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "post" || !document.querySelector(".board")) { return; }
    ["todo", "doing", "done"].forEach(function (status) {
      var list = document.getElementById("list-" + status);
      if (list) { event.detail.parameters["shown_" + status] = list.querySelectorAll(".task-card").length; }
    });
    // Shift+K / Shift+J: name the card this page shows beside it, and the answer is the two
    // cards swapped instead of the whole list. Not where "Show more" continues from the last
    // card (its cursor is that card's place): the list comes back whole then.
    var move = /^\/tasks\/(\d+)\/move$/.exec(event.detail.path);
    var params = event.detail.parameters;
    if (!move || params.after || (params.direction !== "up" && params.direction !== "down")) { return; }
    var card = document.getElementById("task-" + move[1]);
    var other = card && (params.direction === "up" ? card.previousElementSibling : card.nextElementSibling);
    if (!other || !other.classList.contains("task-card")) { return; }
    var last = params.direction === "up" ? card : other;
    var next = last.nextElementSibling;
    if (next && next.querySelector("[data-more]")) { return; }
    params.neighbour = other.id.replace("task-", "");
  });

  // ---- Phone: one bucket at a time, chosen with the switcher above the board. ----
  var phone = window.matchMedia("(max-width: 37.5rem)");
  var active = null;
  function showBucket(status) {
    var board = document.querySelector(".board");
    if (!board) { return; }
    active = status;
    board.dataset.active = status;
    document.querySelectorAll("[data-bucket-tab]").forEach(function (tab) {
      if (tab.dataset.bucketTab === status) { tab.setAttribute("aria-current", "true"); }
      else { tab.removeAttribute("aria-current"); }
    });
    var url = new URL(window.location.href);
    if (status === "todo") { url.searchParams.delete("bucket"); } else { url.searchParams.set("bucket", status); }
    window.history.replaceState(window.history.state, "", url);
  }
  // A card about to get focus in a bucket the phone layout hides: show that bucket first.
  function reveal(card) {
    var bucket = card && card.closest(".bucket");
    if (bucket && phone.matches && bucket.dataset.bucket !== (active || "todo")) {
      showBucket(bucket.dataset.bucket);
    }
  }
  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest("[data-bucket-tab]");
    if (!tab || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    showBucket(tab.dataset.bucketTab);
  });
  document.addEventListener("htmx:afterSettle", function () {
    var board = document.querySelector(".board");
    if (board && active && board.dataset.active !== active) { showBucket(active); }
  });

  // ---- Drag and drop (SortableJS): the same routes as the keys, `after` the card above. ----
  function dropped(event) {
    var card = event.item;
    if (event.from === event.to && event.oldIndex === event.newIndex) { return; }
    var previous = card.previousElementSibling;
    while (previous && !previous.classList.contains("task-card")) { previous = previous.previousElementSibling; }
    var status = event.to.id.replace("list-", "");
    var id = card.id.replace("task-", "");
    var values = { after: previous ? previous.id.replace("task-", "") : "top" };
    var path = "/tasks/" + id + "/move";
    if (event.from !== event.to) {
      path = "/tasks/" + id + "/status";
      values.status = status;
      values.shown_in = event.from.id.replace("list-", "");
    }
    window.htmx.ajax("POST", path, { source: card, values: values, swap: "none" }).then(function () {
      sortable();
      var moved = document.getElementById(card.id);
      if (moved && !document.activeElement.closest(".task-actions, form, dialog")) {
        moved.focus({ preventScroll: true });
      }
    });
  }
  function sortable() {
    if (!window.Sortable) { return; }
    document.querySelectorAll(".board .bucket__list").forEach(function (list) {
      if (window.Sortable.get(list)) { return; }
      window.Sortable.create(list, {
        group: "board",
        draggable: ".task-card:not(.task-card--editing)",
        filter: ".task-actions, input, textarea, select",
        preventOnFilter: false,
        animation: 150,
        delay: 250, delayOnTouchOnly: true, touchStartThreshold: 6,
        forceFallback: true, fallbackOnBody: true, fallbackTolerance: 4,
        fallbackClass: "task-card--drag",
        scroll: true, bubbleScroll: true,
        onStart: function () { document.body.classList.add("is-dragging"); },
        onEnd: function (event) { document.body.classList.remove("is-dragging"); dropped(event); }
      });
    });
  }
  // SortableJS leaves style attributes (often empty) on cards it animated; htmx's settling
  // would copy them onto the redrawn cards, which the CSP (no inline styles) refuses.
  document.addEventListener("htmx:beforeSwap", function () {
    document.querySelectorAll(".board [style]").forEach(function (el) { el.removeAttribute("style"); });
  });
  document.addEventListener("DOMContentLoaded", sortable);
  document.addEventListener("htmx:afterSettle", sortable);
  // Lists redrawn out of band (after a drop or Undo): the request's own element may be gone
  // from the page, so its afterSettle never reaches the document.
  document.addEventListener("htmx:oobAfterSwap", sortable);
  // A list leaving the page takes its SortableJS instance with it (a stale one would still
  // take part in the next drag).
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var instance = window.Sortable && window.Sortable.get(event.target);
    if (instance) { instance.destroy(); }
  });
  sortable();

  // An edit or reminder form opened in a card: all of it in view, Save included.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.elt;
    var form = target && target.classList && target.classList.contains("task-card--editing") ? target : null;
    if (form && form.isConnected) { form.scrollIntoView({ block: "nearest" }); }
  });

  function open(card) {
    var more = card.querySelector("[data-menu]");
    return more ? openMenu(card, more) : false;
  }

  window.tasklyBoard = {
    menu: menu, open: open, reveal: reveal, showBucket: showBucket,
    onPhone: function () { return phone.matches; }
  };
})();

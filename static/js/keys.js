// Taskly's keyboard layer for the board. Plain JavaScript, CSP-clean: no eval, no inline code.
// Every action presses the same button or link a mouse user would, so the server sees one
// request either way; this file only decides keys and where focus lands afterwards.
(function () {
  "use strict";

  var STATUSES = ["todo", "doing", "done"];
  // What to focus once the response is swapped in: {id} or {selector}, and `then`, another
  // such object to try if that element is not on the page (the card itself was removed).
  var pending = null;

  function $(selector, root) { return (root || document).querySelector(selector); }
  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }
  function typing(el) {
    if (!el || !el.tagName) { return false; }
    return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
  }
  function currentCard() {
    var active = document.activeElement;
    return active && active.closest ? active.closest(".task-card") : null;
  }
  function bucketOf(card) { return card.closest(".bucket"); }
  function cardsIn(bucket) { return all(".task-card", bucket); }
  function focusCard(card) {
    if (!card) { return false; }
    if (window.tasklyBoard) { window.tasklyBoard.reveal(card); }
    card.focus();
    card.scrollIntoView({ block: "nearest" });
    return true;
  }
  function neighbour(card) {
    var list = cardsIn(bucketOf(card));
    var i = list.indexOf(card);
    return list[i + 1] || list[i - 1] || null;
  }
  // Where focus goes when `card` leaves the board: the next card in its bucket (else the
  // previous), else a card in another bucket, else the newest Undo button, so that u and
  // Enter still work, else "New task".
  function afterRemoval(card) {
    var next = neighbour(card) || all(".task-card").filter(function (c) { return c !== card; })[0];
    if (next) { return { id: next.id }; }
    return { selector: "#toasts .toast:last-child [data-undo-button]", then: { id: "new-task" } };
  }
  // Stay on this card; if it goes away (deleted in another tab), move on as after a removal.
  function stay(card) { return { id: card.id, then: afterRemoval(card) }; }

  // The card's actions (its "⋯" menu, built on demand by board.js).
  function actions(card) {
    return (window.tasklyBoard && window.tasklyBoard.menu(card)) || card;
  }

  function press(el) {
    if (el && !el.disabled) { el.click(); return true; }
    return false;
  }

  function step(delta) {
    var card = currentCard();
    if (!card) { focusCard($(".task-card")); return; }
    var list = cardsIn(bucketOf(card));
    var index = list.indexOf(card) + delta;
    var next = list[index];
    // Ten cards from the end of what is loaded, fetch the bucket's next page, so j goes on
    // into it without waiting; past the end, wait for it and go on there.
    var more = delta > 0 && index >= list.length - 10 && $("[data-more]", bucketOf(card));
    if (more && !more.classList.contains("htmx-request") && !more.dataset.asked) {
      more.dataset.asked = "1";
      window.htmx.trigger(more, "more");
    }
    if (next) { focusCard(next); return; }
    if (more) { pending = { selector: "#" + card.id + " ~ .task-card" }; }
  }

  function stepBucket(delta) {
    var buckets = all(".bucket");
    var card = currentCard();
    var from = card ? buckets.indexOf(bucketOf(card)) : (delta > 0 ? -1 : buckets.length);
    var index = card ? cardsIn(bucketOf(card)).indexOf(card) : 0;
    for (var b = from + delta; b >= 0 && b < buckets.length; b += delta) {
      var list = cardsIn(buckets[b]);
      if (list.length) { focusCard(list[Math.min(index, list.length - 1)]); return; }
    }
  }

  function setStatus(card, status, focusNeighbour) {
    var button = $('button[name="status"][value="' + status + '"]', actions(card));
    if (!button || button.disabled) { return; }
    // On a phone the other buckets are hidden: stay in this one, on the next card.
    if (window.tasklyBoard && window.tasklyBoard.onPhone()) { focusNeighbour = true; }
    var next = focusNeighbour ? neighbour(card) : null;
    // The moved card briefly exists twice (old place and new bucket): look in the new bucket.
    var moved = { selector: "#list-" + status + " #" + card.id, then: afterRemoval(card) };
    pending = next ? { id: next.id, then: moved } : moved;
    press(button);
  }

  function openHelp() {
    var dialog = document.getElementById("help");
    if (dialog && !dialog.open) { dialog.showModal(); }
  }

  function say(message) {
    var region = document.getElementById("announce");
    if (region) { region.textContent = message; }
  }

  function undoLast() {
    var buttons = all("#toasts [data-undo-button]");
    if (!press(buttons[buttons.length - 1])) { say("Nothing to undo."); }
  }

  function focusField(id) {
    var field = document.getElementById(id);
    if (field) { field.focus(); if (field.select) { field.select(); } }
  }

  function escape(event) {
    var target = event.target;
    var editing = target.closest && target.closest(".task-card--editing");
    if (editing) {
      pending = stay(editing);
      press($('[data-action="cancel"]', editing));
      event.preventDefault();
    } else if (target.id === "new-task" || target.id === "search") {
      if (target.id === "search" && target.value) { return; } // the browser clears it first
      if (focusCard($(".task-card"))) { event.preventDefault(); } // no cards: stay in the field
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing || event.keyCode === 229) { return; }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (!$(".board")) { return; } // the keyboard map belongs to the board page
    var key = event.key;
    if (key === "Escape") { escape(event); return; }
    if (key === "ArrowDown" && event.target.id === "search") {
      // From the search box to its results, keeping the search (Esc would clear it).
      if (focusCard($(".task-card"))) { event.preventDefault(); }
      return;
    }
    if (typing(event.target)) { return; }
    if (event.target.closest && event.target.closest(".task-actions[popover]")) { return; } // board.js
    var help = document.getElementById("help");
    if (help && help.open) { return; } // the dialog handles its own keys (Esc closes it)
    var card = currentCard();
    var handled = true;
    switch (key) {
      case "n": focusField("new-task"); break;
      case "/": focusField("search"); break;
      case "?": openHelp(); break;
      case "j": case "ArrowDown": step(1); break;
      case "k": case "ArrowUp": step(-1); break;
      case "h": case "ArrowLeft": stepBucket(-1); break;
      case "l": case "ArrowRight": stepBucket(1); break;
      case "u": case "z": undoLast(); break;
      default:
        handled = card ? cardKey(card, key, event.target, event) : false;
    }
    if (handled) { event.preventDefault(); }
  });

  function cardKey(card, key, target, event) {
    switch (key) {
      case "Enter":
        if (target !== card) { return false; } // Enter on a button inside the card presses it
        return press($('[data-action="edit"]', card));
      case "e": return press($('[data-action="edit"]', card));
      case "x": setStatus(card, card.dataset.status === "done" ? "todo" : "done", true); return true;
      case "1": case "2": case "3": setStatus(card, STATUSES[Number(key) - 1], false); return true;
      case "#": case "Delete":
        pending = afterRemoval(card);
        return press($("[data-delete]", actions(card)));
      case "r": return press($('[data-action="remind"]', actions(card)));
      case ".": case "ContextMenu": // the card's ⋯ menu (also Shift+F10, below)
        return window.tasklyBoard ? window.tasklyBoard.open(card) : false;
      case "F10": return event.shiftKey && window.tasklyBoard ? window.tasklyBoard.open(card) : false;
      case "J": pending = stay(card); return press($('button[name="direction"][value="down"]', actions(card)));
      case "K": pending = stay(card); return press($('button[name="direction"][value="up"]', actions(card)));
      default: return false;
    }
  }

  // Where focus goes after a request made with the mouse (keys above set it themselves),
  // decided by the URL the request goes to.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.closest) { return; }
    if (elt.id === "new-task-form") {
      // Clear at once so the next task can be typed while this one is saved; put the text
      // back if the request fails, so no keystroke is lost.
      var input = document.getElementById("new-task");
      elt.dataset.sent = input.value;
      input.value = "";
      return;
    }
    if (pending) { return; }
    var undoForm = elt.closest("[data-focus-after]");
    if (undoForm) { pending = { id: undoForm.dataset.focusAfter }; return; }
    var card = elt.closest(".task-card");
    if (!card) { return; }
    var config = event.detail.requestConfig || {};
    var action = (/\/tasks\/\d+(\/\w+)?$/.exec(config.path || "") || [])[1] || "";
    if (action === "/delete") {
      pending = afterRemoval(card);
    } else if (action === "/status") {
      var status = config.formData && config.formData.get("status");
      var onPhone = window.tasklyBoard && window.tasklyBoard.onPhone();
      pending = status && !onPhone
        ? { selector: "#list-" + status + " #" + card.id, then: afterRemoval(card) }
        : (status ? afterRemoval(card) : stay(card));
    } else if (config.verb === "get" && (action === "/edit" || action === "/reminders")) {
      // Opening a form: focus its autofocus field (if the task is gone, move on instead).
      pending = { selector: "#" + card.id + " [autofocus]", then: afterRemoval(card) };
    } else {
      pending = stay(card); // everything else returns to the card
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== "new-task-form") { return; }
    var input = document.getElementById("new-task");
    if (!input) { return; }
    if (!event.detail.successful) {
      if (!input.value) { input.value = elt.dataset.sent || ""; }
    } else if (input.getAttribute("aria-invalid")) {
      // Added: an error from an earlier attempt no longer applies. (The form is not swapped,
      // since the next task may already be half typed in it.)
      var error = document.getElementById("new-task-error");
      if (error) { error.remove(); }
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", "new-task-hint quick-add-preview");
      input.closest(".field").classList.remove("field--invalid");
    }
  });

  // Once a response is swapped in (main target and out-of-band parts), put focus where the
  // action said. afterOnLoad fires once per request after the swap, whatever the swap style.
  // `final`: the whole response is in, so a missing element is gone and `then` applies.
  function resolve(want, final) {
    var found = want && ((want.id && document.getElementById(want.id)) ||
      (want.selector && document.querySelector(want.selector)));
    return found || (final && want && want.then ? resolve(want.then, final) : null);
  }
  function applyPending(attempt, final) {
    attempt = attempt || 0;
    if (!pending) { return; }
    var target = resolve(pending, final);
    if (window.tasklyTrace) { console.log("~ pending", pending.id || pending.selector, !!target); }
    if (!target || !target.isConnected) { return; }
    if (target.classList.contains("task-card")) { focusCard(target); } else { target.focus(); }
    if (document.activeElement === target || attempt >= 10) {
      pending = null;
    } else { // still settling: try again shortly rather than leave focus on <body>
      window.setTimeout(function () { applyPending(attempt + 1, final); }, 20);
    }
  }
  // Bind the pending focus to the request it waits for: keys pressed while an earlier
  // response is still settling must not have their target judged "gone" by that response.
  document.addEventListener("htmx:beforeSend", function (event) {
    if (pending && !pending.xhr) { pending.xhr = event.detail.xhr; }
  });
  document.addEventListener("htmx:afterOnLoad", function (event) {
    var xhr = event.detail.xhr;
    window.setTimeout(function () {
      if (pending && pending.xhr === xhr) { applyPending(0, true); }
    }, 0);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    applyPending(0);
    // A text field swapped in with focus (an edit form, a form sent back with an error):
    // the caret goes after the text, so typing continues it rather than prefixing it.
    window.setTimeout(function () {
      var field = document.activeElement;
      var swapped = event.detail && event.detail.elt;
      if (field && (field.type === "text" || field.tagName === "TEXTAREA") &&
          swapped && swapped.contains && swapped.contains(field) && field.selectionStart === 0) {
        field.setSelectionRange(field.value.length, field.value.length);
      }
    }, 0);
  });

  // The same for a form's autofocus field the moment it gets focus (htmx's own autofocus, or
  // the pending focus above), before the settle handler runs: a key typed in between would
  // otherwise land in front of the text.
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("autofocus") &&
        (field.type === "text" || field.tagName === "TEXTAREA") &&
        field.selectionStart === 0 && field.selectionEnd === 0 && field.value) {
      field.setSelectionRange(field.value.length, field.value.length);
    }
  });

  document.addEventListener("htmx:sendError", function () { pending = null; });

  // For the live board (live.js): where focus goes when a card leaves, and going there.
  window.tasklyKeys = {
    afterRemoval: afterRemoval,
    land: function (want) {
      var target = resolve(want, true);
      if (target && target.classList.contains("task-card")) { focusCard(target); } else if (target) { target.focus(); }
    }
  };
})();

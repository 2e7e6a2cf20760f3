// Dates (issue #11): the sign-up form's locale guess, and the due picker's quick choices on the
// card form. Needs no other script; safe to load twice (it sets itself up once).
(function () {
  "use strict";
  if (window.tasklyDates) { return; }
  window.tasklyDates = true;

  // Sign-up: the browser's language names the date format; the server checks it with Babel
  // and, without JavaScript, falls back to Accept-Language.
  function guessLocale(root) {
    root.querySelectorAll("[data-guess-locale]").forEach(function (input) {
      if (!input.value) { input.value = navigator.language || ""; }
    });
  }

  // Quick due dates are hidden in the HTML (they do nothing without this script).
  function reveal(root) {
    root.querySelectorAll("[data-due-quick][hidden]").forEach(function (group) {
      group.hidden = false;
    });
  }

  function setup(root) {
    if (!root || !root.querySelectorAll) { return; }
    guessLocale(root);
    reveal(root);
  }

  function say(message) {
    var region = document.getElementById("announce");
    if (region) {
      region.textContent = "";
      // A fresh text node, a moment later: the same choice twice is announced twice.
      window.setTimeout(function () { region.textContent = message; }, 30);
    }
  }

  function fill(field, value) {
    if (!field || field.value === value) { return; }
    field.value = value;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // The dates come from the server, computed on the user's clock; the button keeps focus, so
  // the next Tab reaches the following control as before.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-due-quick] [data-due-date]");
    if (!button) { return; }
    var group = button.closest("[data-due-quick]");
    var dateField = document.getElementById(group.dataset.dateField);
    var timeField = document.getElementById(group.dataset.timeField);
    var day = button.dataset.dueDate;
    fill(dateField, day);
    if (!day) {
      fill(timeField, "");
      say("Due date cleared.");
    } else {
      say("Due " + button.textContent.trim().toLowerCase() + ", " + button.dataset.dueWords + ".");
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setup(document); });
  } else {
    setup(document);
  }
  // Edit forms arrive by htmx.
  document.addEventListener("htmx:load", function (event) { setup(event.detail.elt); });
})();

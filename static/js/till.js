// The till's enhancements. Every step works without this file; with it, htmx swaps the
// till panel in place, and this keeps the focus and the error messages where people
// expect them.
(function () {
  "use strict";

  var PANEL = "till-panel";
  // The till answers refusals with these statuses and a panel that explains them.
  var EXPLAINED = [404, 409, 422, 429];

  function showError(text) {
    var region = document.querySelector(".toasts");
    if (!region) { return; }
    var toast = document.createElement("div");
    toast.className = "toast toast-error";
    toast.setAttribute("role", "alert");
    var p = document.createElement("p");
    p.textContent = text;
    toast.appendChild(p);
    region.appendChild(toast);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.target || detail.target.id !== PANEL) { return; }
    var body = detail.xhr.responseText || "";
    var hasPanel = body.indexOf('id="' + PANEL + '"') !== -1;
    if (EXPLAINED.indexOf(detail.xhr.status) !== -1 && hasPanel) {
      detail.shouldSwap = true;
      detail.isError = false;
    } else if (!hasPanel && detail.xhr.status >= 400) {
      detail.shouldSwap = false;
      showError(detail.xhr.status === 404
        ? "That card is not available here. Look it up again."
        : "The till could not finish that step (error " + detail.xhr.status + "). " +
          "Try again: a confirmed redemption is never taken twice.");
    }
  });

  // Tell assistive technology the panel is working while a step is on its way.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var panel = document.getElementById(PANEL);
    if (panel && panel.contains(event.detail.elt)) { panel.setAttribute("aria-busy", "true"); }
  });
  document.addEventListener("htmx:afterRequest", function () {
    var panel = document.getElementById(PANEL);
    if (panel) { panel.removeAttribute("aria-busy"); }
  });

  // After a swap, move the focus into the new step: the field to fix or fill in, else
  // the step's heading, so keyboard and screen reader users carry on from there.
  document.addEventListener("htmx:afterSettle", function (event) {
    var panel = document.getElementById(PANEL);
    if (!panel || !panel.contains(event.detail.elt) && event.detail.elt.id !== PANEL) { return; }
    var target = panel.querySelector("[aria-invalid='true']") ||
      panel.querySelector("[autofocus]") ||
      panel.querySelector("#till-step-heading");
    if (target) { target.focus(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-print-receipt]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();

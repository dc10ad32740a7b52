// Storefront enhancements; every page works without this file.
// - fills the buyer's time zone into the purchase form (the server assumes UTC without it);
// - hides the gift details while the card is "For me";
// - adds recipient blocks in the page ("Add another recipient" otherwise asks the server);
// - stops a second click from submitting the purchase twice.
(function () {
  "use strict";

  function timeZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  function setUp(form) {
    var zone = timeZone();
    if (zone) {
      form.querySelectorAll("[data-timezone]").forEach(function (input) { input.value = zone; });
      form.querySelectorAll("[data-timezone-label]").forEach(function (label) { label.textContent = zone; });
    }

    var gift = form.querySelector("[data-gift-details]");
    var choices = form.querySelectorAll("input[data-purpose]");
    function showGift() {
      var checked = form.querySelector("input[data-purpose]:checked");
      if (gift) { gift.hidden = !(checked && checked.value === "gift"); }
    }
    choices.forEach(function (input) { input.addEventListener("change", showGift); });
    showGift();
    setUpRecipients(form, zone);

    form.addEventListener("submit", function (event) {
      if (form.dataset.submitting === "true") {
        event.preventDefault();
        return;
      }
      form.dataset.submitting = "true";
      var button = form.querySelector("[data-submit]");
      if (button) { button.setAttribute("aria-disabled", "true"); button.textContent = "Please wait…"; }
    });
    // Coming back with the browser's back button: the form is usable again.
    window.addEventListener("pageshow", function () {
      form.dataset.submitting = "false";
      var button = form.querySelector("[data-submit]");
      if (button) { button.removeAttribute("aria-disabled"); button.textContent = "Continue to payment"; }
    });
  }

  function setUpRecipients(form, zone) {
    var button = form.querySelector("[data-add-recipient]");
    var list = form.querySelector("[data-recipients]");
    var template = form.querySelector("template[data-recipient-template]");
    var total = form.querySelector("input[name$='-TOTAL_FORMS']");
    if (!button || !list || !template || !total) { return; }
    var max = parseInt(button.dataset.max, 10) || 5;
    button.addEventListener("click", function (event) {
      var count = parseInt(total.value, 10) || 0;
      if (count >= max) { return; }
      event.preventDefault();
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(count));
      var block = holder.firstElementChild;
      block.querySelectorAll("[data-recipient-number]").forEach(function (span) { span.textContent = String(count + 1); });
      if (zone) {
        block.querySelectorAll("[data-timezone-label]").forEach(function (label) { label.textContent = zone; });
      }
      list.appendChild(block);
      total.value = String(count + 1);
      if (count + 1 >= max) { button.hidden = true; }
      var first = block.querySelector("input");
      if (first) { first.focus(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-purchase-form]").forEach(setUp);
  });
})();

// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  function dismiss(toast) {
    toast.classList.add("toast-leaving");
    window.setTimeout(function () { toast.remove(); }, 200);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss='toast']");
    if (button) { dismiss(button.closest(".toast")); }
  });

  // Success and info toasts fade after a while; errors stay until dismissed.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".toast-success, .toast-info").forEach(function (toast) {
      window.setTimeout(function () { if (toast.isConnected) { dismiss(toast); } }, 8000);
    });
  });

  // htmx: explain network failures instead of failing silently.
  document.addEventListener("htmx:sendError", function () {
    var region = document.querySelector(".toasts");
    if (!region) { return; }
    var toast = document.createElement("div");
    toast.className = "toast toast-error";
    toast.setAttribute("role", "alert");
    toast.innerHTML = "<p>We could not reach the server. Check your connection and try again.</p>";
    region.appendChild(toast);
  });
})();

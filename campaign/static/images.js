// The images page: "Copy" puts an image's Markdown line on the clipboard; clicking the
// line itself selects all of it, ready for Ctrl+C where the clipboard is not allowed.
// Delete asks first.
(function () {
  "use strict";
  document.querySelectorAll(".markdown-line").forEach(function (line) {
    line.addEventListener("focus", function () { line.select(); });
  });
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const line = document.getElementById(button.dataset.copy);
      line.select();
      try {
        await navigator.clipboard.writeText(line.value);
        button.textContent = "Copied";
      } catch (e) {
        button.textContent = "Press Ctrl+C";  // the line is selected
      }
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();

// On a phone a weekly chart is wider than the screen and scrolls sideways: open it at
// the newest weeks, which are what staff come to see, rather than at the oldest.
(function () {
  "use strict";
  document.querySelectorAll(".chart-frame[data-open-at='end']").forEach(function (frame) {
    frame.scrollLeft = frame.scrollWidth;
  });
})();

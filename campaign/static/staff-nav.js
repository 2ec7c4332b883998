// On a phone the staff menu is one row that scrolls sideways: show the current page's
// link rather than leave it cut off at the edge.
(function () {
  "use strict";
  const current = document.querySelector(".staff-nav [aria-current]");
  if (current) current.scrollIntoView({ block: "nearest", inline: "center" });
})();

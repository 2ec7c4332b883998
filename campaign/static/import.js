// Import page: follow the dry run and the import without reloading.
(function () {
  "use strict";
  const box = document.getElementById("import-job");
  if (!box) return;
  const finished = ["analysed", "imported", "failed"];

  function render(job) {
    document.getElementById("import-status").textContent = job.status;
    document.getElementById("import-rows").textContent = job.rows_done;
    document.querySelectorAll("[data-count]").forEach(function (cell) {
      cell.textContent = job.counts[cell.dataset.count] || 0;
    });
    const done = finished.includes(job.status);
    const total = job.counts.rows || 0;
    const percent = done ? 100 : (total ? Math.min(99, Math.round((job.rows_done / Math.max(total, 1)) * 100)) : 0);
    document.getElementById("import-fill").style.width = percent + "%";
    document.getElementById("import-bar").setAttribute("aria-valuenow", String(percent));
    document.getElementById("import-start").hidden = job.status !== "analysed";
    const list = document.getElementById("import-errors");
    list.replaceChildren();
    (job.errors.length ? job.errors : [null]).forEach(function (error) {
      const li = document.createElement("li");
      li.textContent = error ? "Row " + error.row + ": " + error.error : "None.";
      list.append(li);
    });
    return done;
  }

  async function poll() {
    for (;;) {
      try {
        const response = await fetch(box.dataset.url, { credentials: "same-origin" });
        if (response.ok && render(await response.json())) return;
      } catch (e) { /* keep trying */ }
      await new Promise(function (resolve) { window.setTimeout(resolve, 1000); });
    }
  }
  if (!finished.includes(box.dataset.status)) poll();
})();

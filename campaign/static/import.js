// Import page: follow the dry run and the import without reloading.
(function () {
  "use strict";
  const box = document.getElementById("import-job");
  if (!box) return;
  const finished = ["analysed", "imported", "failed"];
  const news = document.getElementById("import-news");
  let toldStatus = box.dataset.status;

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  // What a screen reader hears when the status changes (the table changes silently).
  function summary(job) {
    const counts = job.counts;
    const errors = plural(counts.invalid || 0, "row with errors", "rows with errors");
    if (job.status === "analysed") {
      const coming = (counts.confirmed || 0) + (counts.opt_in || 0);
      return "Dry run finished: " + coming + " to import, " + errors + ". Import now is available.";
    }
    if (job.status === "imported") {
      return "Import finished: " + plural((counts.confirmed || 0) + (counts.opt_in || 0), "person", "people") +
        " imported, " + errors + ".";
    }
    if (job.status === "failed") return "The import stopped. See the row errors.";
    if (job.status === "analysing") return "Checking the file.";
    if (job.status === "importing") return "Importing.";
    return "";
  }

  function tell(job) {
    if (job.status === toldStatus) return;
    toldStatus = job.status;
    const text = summary(job);
    if (!text) return;
    // Emptied first, then filled on the next frame, so the change is announced.
    news.textContent = "";
    window.requestAnimationFrame(function () { news.textContent = text; });
  }

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
      // The address as typed, so the row is found without counting lines; as text.
      const where = error && error.email ? " (" + error.email + ")" : "";
      li.textContent = error ? "Row " + error.row + where + ": " + error.error : "None.";
      list.append(li);
    });
    const notes = document.getElementById("import-notes");
    const found = job.counts.notes || [];
    notes.replaceChildren();
    (found.length ? found : [null]).forEach(function (note) {
      const li = document.createElement("li");
      li.textContent = note ? "Row " + note.row + ": " + note.note : (done ? "None." : "None yet.");
      notes.append(li);
    });
    tell(job);
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

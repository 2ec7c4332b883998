// Compose page: live preview rendered by the server, test send, schedule, send,
// and a progress bar that follows the send without reloading.
(function () {
  "use strict";

  const compose = document.getElementById("compose");
  if (!compose) return;
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const campaignId = compose.dataset.campaignId;
  const form = document.getElementById("compose-form");
  const frame = document.getElementById("preview");
  const previewStatus = document.getElementById("preview-status");
  const NO_CONNECTION = "No connection to the server.";

  // After Save the page reloads: the focus goes to the "Saved." message, not the top.
  const flash = document.querySelector(".flash");
  if (flash) flash.focus();

  const previewAs = document.getElementById("preview-as");

  async function post(path, body, asForm) {
    const options = { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken } };
    if (asForm) {
      options.body = new FormData(form);
      options.body.append("preview_as", previewAs.value);
    } else {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (e) {
      return { status: 0, data: {} };
    }
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { status: response.status, data: data };
  }

  // Live preview, debounced so typing stays smooth.
  let timer = null;
  let sequence = 0;
  async function refreshPreview() {
    const mine = ++sequence;
    const result = await post("/staff/campaigns/preview", null, true);
    if (mine !== sequence) return;  // a newer preview is on its way
    const fresh = result.status === 200 && typeof result.data.html === "string";
    if (fresh) {
      frame.srcdoc = result.data.html;
      // A note (how a reader without a first name reads it) is advice, not a problem.
      previewStatus.textContent = result.data.note || "";
    } else if (result.status === 0) {
      previewStatus.textContent = NO_CONNECTION + " The preview is not up to date.";
    } else {
      // A log-in page or another non-JSON answer has no "error": say so, not "undefined".
      const error = result.data.error;
      previewStatus.textContent = ((typeof error === "string" && error) ||
        (error && error.message) || "The preview could not be rendered.") +
        " The preview shows the last version that worked.";
    }
    // A preview left from an earlier version looks current unless it says otherwise.
    previewStatus.classList.toggle("problem", !fresh);
    frame.classList.toggle("stale", !fresh);
  }
  // Edits made since the page was loaded: test copies and sends use the saved version.
  // A page sent back with an error holds what was typed, not what was saved.
  let unsaved = Boolean(document.getElementById("form-error"));
  form.addEventListener("input", function () {
    unsaved = true;
    window.clearTimeout(timer);
    timer = window.setTimeout(refreshPreview, 300);
  });
  form.addEventListener("submit", function () { unsaved = false; });
  previewAs.addEventListener("change", refreshPreview);
  // Leaving with unsaved edits (a menu link, "All newsletters", closing the tab) asks first.
  window.addEventListener("beforeunload", function (event) {
    if (!unsaved) return;
    event.preventDefault();
    event.returnValue = "";
  });
  refreshPreview();

  // "Add an image": upload it, then put its Markdown where the cursor is, with the
  // description placeholder selected so that typing replaces it.
  const imageFile = document.getElementById("image-file");
  const imageStatus = document.getElementById("image-status");
  const body = document.getElementById("body_markdown");
  if (imageFile) imageFile.addEventListener("change", async function () {
    const file = imageFile.files[0];
    if (!file) return;
    imageStatus.textContent = "Uploading " + file.name + "…";
    const data = new FormData();
    data.append("image", file);
    let response;
    try {
      response = await fetch("/api/v1/images", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken }, body: data,
      });
    } catch (e) {
      imageStatus.textContent = NO_CONNECTION + " The image was not uploaded.";
      return;
    }
    let answer = {};
    try { answer = await response.json(); } catch (e) { answer = {}; }
    imageFile.value = "";
    if (response.status !== 201 || typeof answer.markdown !== "string") {
      const error = answer.error && answer.error.message;
      imageStatus.textContent = error || (response.status === 413
        ? "The file is too large." : "The image could not be uploaded.");
      return;
    }
    insertImage(answer.markdown);
  });

  // An image's line, as its own paragraph where the cursor is, the description
  // placeholder selected so that typing replaces it.
  function insertImage(markdown) {
    const start = body.selectionStart;
    const before = body.value.slice(0, start);
    const lead = before === "" || before.endsWith("\n\n") ? "" : (before.endsWith("\n") ? "\n" : "\n\n");
    const text = lead + markdown + "\n\n";
    body.setRangeText(text, start, body.selectionEnd, "end");
    const description = start + lead.length + 2;  // after "!["
    const placeholder = markdown.slice(2, markdown.indexOf("]"));
    body.focus();
    body.setSelectionRange(description, description + placeholder.length);
    body.dispatchEvent(new Event("input", { bubbles: true }));
    imageStatus.textContent = "Added. Type what the picture shows in place of the selected “" +
      placeholder + "”.";
  }

  // "Or pick one uploaded before": the same, for an image already on the Images page.
  document.querySelectorAll(".image-choice").forEach(function (choice) {
    choice.addEventListener("click", function () {
      insertImage(choice.dataset.markdown);
      choice.closest("details").open = false;
    });
  });

  if (!campaignId) return;
  const api = "/api/v1/campaigns/" + campaignId;
  const controls = document.getElementById("controls");
  const message = document.getElementById("control-message");
  const statusBadge = document.getElementById("campaign-status");
  const sendAt = document.getElementById("send-at");
  const progress = document.getElementById("progress");
  const bar = document.getElementById("progress-bar");
  const fill = document.getElementById("progress-fill");
  const progressText = document.getElementById("progress-text");
  const progressNews = document.getElementById("progress-news");
  const EDITABLE = ["draft", "scheduled"];
  const FINAL = ["sent", "failed", "cancelled"];
  const stateRow = document.getElementById("state-row");
  const messageAlert = message.querySelector('[role="alert"]');
  const messageStatus = message.querySelector('[role="status"]');
  let currentStatus = compose.dataset.status;

  // The message goes under the row of the control pressed (a row the new status hides
  // hands it to the row of sending's controls), so it is read where the eyes are.
  function rowOf(control) {
    const row = control.closest(".row");
    return row && !row.closest("[hidden]") ? row : stateRow;
  }
  function place(row) {
    if (message.previousElementSibling !== row) row.after(message);
  }
  let messages = 0;  // a message put off to the next frame is dropped if another came
  function clearMessage() {
    messages += 1;
    messageAlert.textContent = "";
    messageStatus.textContent = "";
    message.classList.remove("alert", "error", "ok");
  }

  // An error is said in the alert and looks like one; a success in the polite status.
  function say(text, kind, row) {
    place(row || stateRow);
    const part = kind === "error" ? messageAlert : messageStatus;
    const repeated = part.textContent === text;
    clearMessage();
    const mine = messages;
    message.classList.add("alert", kind === "error" ? "error" : "ok");
    // The same words again are told only if the region was emptied first.
    if (!repeated) part.textContent = text;
    else window.requestAnimationFrame(function () { if (mine === messages) part.textContent = text; });
  }

  // A polite live region for milestones only: the progress line changes every second,
  // which would be read out over and over. Emptied first, so the same words are told again.
  function news(text) {
    progressNews.textContent = "";
    window.requestAnimationFrame(function () { progressNews.textContent = text; });
  }

  // The field an API error is about is marked and takes the focus; a success clears it.
  const FIELDS = { send_at: "send-at-input", emails: "test-emails" };
  function markInvalid(result) {
    const field = result && result.data.error && FIELDS[result.data.error.field];
    Object.values(FIELDS).forEach(function (id) {
      const input = document.getElementById(id);
      const help = (input.getAttribute("aria-describedby") || "").split(" ")
        .filter(function (ref) { return ref && ref !== "control-message"; });
      if (id === field) {
        input.setAttribute("aria-invalid", "true");
        help.push("control-message");
      } else {
        input.removeAttribute("aria-invalid");
      }
      if (help.length) input.setAttribute("aria-describedby", help.join(" "));
      else input.removeAttribute("aria-describedby");
    });
    if (field) document.getElementById(field).focus();
  }

  function errorText(result) {
    if (result.status === 0) return NO_CONNECTION;
    return (result.data.error && result.data.error.message) || ("Error " + result.status);
  }

  // Show only the controls that apply to the campaign's status; lock a started send's text.
  function applyStatus(status) {
    currentStatus = status;
    compose.dataset.status = status;
    document.querySelectorAll("[data-when]").forEach(function (element) {
      element.hidden = !element.dataset.when.split(" ").includes(status);
    });
    if (!EDITABLE.includes(status)) {
      form.querySelectorAll("input:not([type=hidden]), textarea").forEach(function (field) {
        field.readOnly = true;
      });
    }
  }

  const clinicTime = new Intl.DateTimeFormat("en-GB", {
    timeZone: controls.dataset.timezone, weekday: "long", day: "numeric", month: "long",
    year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  function needsSaving(button) {
    if (!unsaved) return false;
    say("Save your changes first: test copies and sends use the saved version.", "error", rowOf(button));
    return true;
  }

  // The message moves under the button's row at the press, so it is in place (and
  // empty) before the answer is told in it.
  async function busy(button, work) {
    clearMessage();
    place(rowOf(button));
    button.disabled = true;
    try { await work(); } finally { button.disabled = false; }
  }

  const testButton = document.getElementById("test-button");
  testButton.addEventListener("click", function () {
    if (needsSaving(testButton)) return;
    const emails = document.getElementById("test-emails").value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    busy(testButton, async function () {
      const result = await post(api + "/test", { emails: emails });
      if (result.status === 202) say("Test sent to " + result.data.emails.join(", ") + ".", "ok", rowOf(testButton));
      else say(errorText(result), "error", rowOf(testButton));
      markInvalid(result.status === 202 ? null : result);
    });
  });

  const DONE = {
    schedule: "Scheduled.",
    send: "Sending started.",
    pause: "Paused: no more copies go out until you resume.",
    resume: "Sending again.",
    unschedule: "Back to a draft: it will not be sent until you schedule or send it.",
  };

  // A scheduled newsletter has reached nobody yet; one sending has reached some.
  function cancelQuestion() {
    return currentStatus === "scheduled"
      ? "Cancel this newsletter? It will not be sent."
      : "Cancel this newsletter? Nobody else will receive it.";
  }
  function cancelledText(before) {
    return before === "scheduled"
      ? "Cancelled: it will not be sent."
      : "Cancelled: nobody else will receive it.";
  }

  function sendNowQuestion() {
    const count = Number(document.getElementById("controls").dataset.audience);
    const who = count === 1 ? "1 subscriber" : count.toLocaleString() + " subscribers";
    return "Send this newsletter now to " + who + "?";
  }

  // A pressed button the new status hides hands the focus on, so it does not fall to
  // the page: to the control that replaces it, else to the message saying what happened.
  const REPLACED_BY = { send: "pause", pause: "resume", resume: "pause", unschedule: "schedule" };
  // (Send now is hidden with its whole row, so the test is for a hidden ancestor.)
  function keepFocus(button) {
    if (!button.closest("[hidden]")) return;
    const next = document.querySelector('[data-action="' + REPLACED_BY[button.dataset.action] + '"]');
    (next && !next.closest("[hidden]") ? next : message).focus();
  }

  document.querySelectorAll("[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      const action = button.dataset.action;
      if (["schedule", "send"].includes(action) && needsSaving(button)) return;
      if (action === "cancel" && !window.confirm(cancelQuestion())) return;
      if (action === "send" && !window.confirm(sendNowQuestion())) return;
      let body = {};
      if (action === "schedule") body = { send_at: document.getElementById("send-at-input").value };
      const before = currentStatus;
      busy(button, async function () {
        const result = await post(api + "/" + action, body);
        if (result.status === 200 || result.status === 202) {
          update(result.data, false);
          // After the update: Send now's row is hidden by then, so its message goes below.
          say(action === "cancel" ? cancelledText(before) : DONE[action], "ok", rowOf(button));
          markInvalid(null);
          keepFocus(button);
          poll();
        } else {
          say(errorText(result), "error", rowOf(button));
          markInvalid(result);
        }
      });
    });
  });

  function formatEta(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return Math.round(seconds) + " s";
    return Math.round(seconds / 60) + " min";
  }

  // The last quarter of the send told (25, 50, 75); null until the first figures.
  let toldQuarter = null;

  function update(campaign, polled) {
    const before = currentStatus;
    statusBadge.textContent = campaign.status;
    statusBadge.className = "badge " + campaign.status;
    applyStatus(campaign.status);
    if (campaign.status === "scheduled" && campaign.send_at) {
      sendAt.textContent = "for " + clinicTime.format(new Date(campaign.send_at)) +
        " (" + controls.dataset.timezone + ")";
    }
    const counts = campaign.counts;
    if (EDITABLE.includes(campaign.status)) return;
    progress.hidden = false;
    // Cancelled while scheduled: no audience was ever taken, so no bar to fill.
    bar.hidden = !counts.total && campaign.status === "cancelled";
    if (bar.hidden) {
      progressText.textContent = "Cancelled before sending started: nothing was sent.";
      return;
    }
    // What went through: a cancelled send's bar stops where it was cancelled, not at
    // the 100 % its cancelled rest would add up to (which read as "all sent").
    const done = counts.sent + counts.failed + counts.skipped;
    const percent = counts.total ? Math.floor((done / counts.total) * 100) : 100;
    fill.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    let text = percent + "% \u00b7 " + counts.sent + " sent, " + counts.failed + " failed, " +
      counts.skipped + " skipped, " + counts.queued + " remaining";
    if (counts.cancelled) text += ", " + counts.cancelled + " cancelled";
    if (campaign.rate_per_minute) text += " \u00b7 " + Math.round(campaign.rate_per_minute) + "/min";
    if (campaign.eta_seconds) text += " \u00b7 about " + formatEta(campaign.eta_seconds) + " left";
    if (progressText.textContent !== text) progressText.textContent = text;
    const quarter = Math.min(75, Math.floor(percent / 25) * 25);
    if (toldQuarter !== null && quarter > toldQuarter && percent < 100) {
      news(percent + "% sent: " + counts.sent + " of " + counts.total + ".");
    }
    if (toldQuarter === null || quarter > toldQuarter) toldQuarter = quarter;
    // A change made elsewhere (the dispatcher starting it, someone else pausing it);
    // this page's own buttons and the end are told in the control message.
    if (polled && before !== campaign.status && !["sent", "failed"].includes(campaign.status)) {
      news("Status: " + campaign.status + ".");
    }
    if (before !== campaign.status && campaign.status === "sent") say("Finished.", "ok");
    if (before !== campaign.status && campaign.status === "failed") say("Finished, but copies failed: see the ledger.", "error");
  }

  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      for (;;) {
        let campaign = null;
        try {
          const response = await fetch(api, { credentials: "same-origin" });
          if (response.status === 401 || response.status === 403 || response.status === 404) break;
          if (response.ok) campaign = await response.json();
        } catch (e) {
          campaign = null;  // offline for a moment: try again below
        }
        if (campaign) {
          update(campaign, true);
          if (campaign.counts.queued === 0 && (FINAL.includes(campaign.status) || campaign.status === "draft")) break;
        }
        // A scheduled campaign is watched slowly, so the page sees the dispatcher start it.
        const wait = campaign && campaign.status === "scheduled" ? 15000 : 1000;
        await new Promise(function (resolve) { window.setTimeout(resolve, wait); });
      }
    } finally {
      polling = false;
    }
  }
  // Deleting asks first; the question covers unsaved edits too, so leaving does not ask again.
  const deleteForm = document.getElementById("delete-form");
  deleteForm.addEventListener("submit", function (event) {
    if (!window.confirm(deleteForm.dataset.confirm)) event.preventDefault();
    else unsaved = false;
  });

  applyStatus(currentStatus);
  poll();
  // Every control is wired: tests (and people on slow links) may act from here on.
  compose.dataset.ready = "true";
})();

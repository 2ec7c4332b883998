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

  async function post(path, body, asForm) {
    const options = { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken } };
    if (asForm) {
      options.body = new FormData(form);
    } else {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch(path, options);
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
    if (result.status === 200) {
      frame.srcdoc = result.data.html;
      previewStatus.textContent = "";
    } else {
      previewStatus.textContent = result.data.error || "The preview could not be rendered.";
    }
  }
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refreshPreview, 300);
  });
  refreshPreview();

  if (!campaignId) return;
  const api = "/api/v1/campaigns/" + campaignId;
  const message = document.getElementById("control-message");
  const statusBadge = document.getElementById("campaign-status");
  const progress = document.getElementById("progress");
  const bar = document.getElementById("progress-bar");
  const fill = document.getElementById("progress-fill");
  const progressText = document.getElementById("progress-text");

  function say(text) { message.textContent = text; }

  function errorText(result) {
    return (result.data.error && result.data.error.message) || ("Error " + result.status);
  }

  document.getElementById("test-button").addEventListener("click", async function () {
    const emails = document.getElementById("test-emails").value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    const result = await post(api + "/test", { emails: emails });
    say(result.status === 202 ? "Test sent to " + result.data.emails.join(", ") + "." : errorText(result));
  });

  document.querySelectorAll("[data-action]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const action = button.dataset.action;
      if (action === "cancel" && !window.confirm("Cancel this newsletter? Nobody else will receive it.")) return;
      if (action === "send" && !window.confirm("Send this newsletter to every subscriber now?")) return;
      let body = {};
      if (action === "schedule") body = { send_at: document.getElementById("send-at-input").value };
      const result = await post(api + "/" + action, body);
      if (result.status === 200 || result.status === 202) {
        say(action === "schedule" ? "Scheduled." : "Done: " + result.data.status + ".");
        update(result.data);
        poll();
      } else {
        say(errorText(result));
      }
    });
  });

  function formatEta(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return Math.round(seconds) + " s";
    return Math.round(seconds / 60) + " min";
  }

  function update(campaign) {
    statusBadge.textContent = campaign.status;
    statusBadge.className = "badge " + campaign.status;
    const counts = campaign.counts;
    if (campaign.status === "draft" || campaign.status === "scheduled") return;
    progress.hidden = false;
    const done = counts.sent + counts.failed + counts.skipped + counts.cancelled;
    const percent = counts.total ? Math.round((done / counts.total) * 100) : 100;
    fill.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    let text = percent + "% \u00b7 " + counts.sent + " sent, " + counts.failed + " failed, " +
      counts.skipped + " skipped, " + counts.queued + " remaining";
    if (campaign.rate_per_minute) text += " \u00b7 " + campaign.rate_per_minute + "/min";
    if (campaign.eta_seconds) text += " \u00b7 about " + formatEta(campaign.eta_seconds) + " left";
    progressText.textContent = text;
  }

  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      for (;;) {
        const response = await fetch(api, { credentials: "same-origin" });
        if (!response.ok) break;
        const campaign = await response.json();
        update(campaign);
        if (["sent", "failed", "cancelled", "draft", "scheduled"].includes(campaign.status) &&
            campaign.counts.queued === 0) break;
        await new Promise(function (resolve) { window.setTimeout(resolve, 1000); });
      }
    } finally {
      polling = false;
    }
  }
  poll();
})();

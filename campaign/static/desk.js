// The front desk: look a coupon up, then redeem it with one big button.
// Talks to /api/v1/coupons with the session cookie and the page's CSRF token, on
// look-ups too: the server refuses a session look-up without it (an invalid code counts
// toward the lockout, and another site must not be able to spend that).
(function () {
  "use strict";

  const REPEAT_SCAN_MS = 2000;   // a scanner that fires twice on one code
  const UNDO_WINDOW_MS = 15 * 60 * 1000;

  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const form = document.getElementById("lookup-form");
  const input = document.getElementById("code");
  const result = document.getElementById("result");
  const title = document.getElementById("result-title");
  const details = document.getElementById("result-details");
  const redeemButton = document.getElementById("redeem-button");
  const undoButton = document.getElementById("undo-button");
  const todayList = document.getElementById("today-list");
  const news = document.getElementById("result-news");
  const actions = result.querySelector(".result-actions");

  let current = null;       // the code on screen
  let today = [];           // this desk's redemptions today, as last loaded
  let lastSubmit = { code: "", at: 0 };
  let busy = false;
  let waiting = null;       // a code submitted while an answer was awaited

  const TITLES = {
    valid: "Valid coupon",
    redeemed: "Redeemed \u2713",
    already_redeemed: "Already used",
    expired: "Expired",
    void: "Cancelled (void)",
    invalid_code: "Not a valid code",
    not_found: "No such coupon",
    undone: "Redemption undone",
    account_locked: "Paused",
    not_redeemed: "Not redeemed",
    undo_not_allowed: "Cannot undo here",
    rate_limited: "Too many checks",
    csrf_failed: "Reload the page",
    error: "Something went wrong",
  };

  function normalise(text) {
    return text.replace(/[\s-]/g, "").toUpperCase();
  }

  async function call(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken,
                   "Accept": "application/json" },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      // Offline or the server unreachable: say so rather than leave the screen unchanged.
      return { status: 0, data: { error: { code: "error",
        message: "No connection to the server. Check the Wi-Fi and try again." } } };
    }
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (response.status === 401) { window.location.href = "/staff/login?next=/desk"; }
    return { status: response.status, data: data };
  }

  // Times as every other staff page writes them ("1 March 2027, 23:59": 24-hour, in
  // the clinic's time zone), whatever the tablet's language and clock are set to. The
  // parts are put together here: browsers join a date and a time in words of their own
  // ("at", a comma), which differ from one version to the next.
  const clinicZone = document.querySelector('meta[name="clinic-timezone"]').content;
  const CLOCK = { day: "numeric", month: "long", year: "numeric",
                  hour: "2-digit", minute: "2-digit", hourCycle: "h23" };

  function clock(zone) {
    return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: zone }, CLOCK));
  }

  let clinicClock, zoneNote = "";
  try {
    clinicClock = clock(clinicZone);
  } catch (e) {  // a zone this browser does not know: UTC, and say so
    clinicClock = clock("UTC");
    zoneNote = " UTC";
  }

  function timeParts(iso) {
    const parts = {};
    clinicClock.formatToParts(new Date(iso)).forEach(function (part) { parts[part.type] = part.value; });
    return parts;
  }

  function formatTime(iso) {
    if (!iso) return "";
    const p = timeParts(iso);
    return p.day + " " + p.month + " " + p.year + ", " + p.hour + ":" + p.minute + zoneNote;
  }

  // The day's list is of today only: its time of day says enough.
  function formatClock(iso) {
    if (!iso) return "";
    const p = timeParts(iso);
    return p.hour + ":" + p.minute + zoneNote;
  }

  function row(label, value) {
    if (!value) return;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    details.append(dt, dd);
  }

  // The live region is on the page from the start and holds a short summary. It is
  // emptied, then filled on the next frame, so a screen reader tells even the same
  // words twice (two cards in a row that are both "Valid coupon").
  let newsFrame = 0;
  function tell(text) {
    news.textContent = "";
    window.cancelAnimationFrame(newsFrame);
    newsFrame = window.requestAnimationFrame(function () { news.textContent = text; });
  }

  function show(state, coupon, message) {
    result.hidden = false;
    result.dataset.state = state;
    title.textContent = TITLES[state] || TITLES.error;
    // What the card says besides its title, told with it: the offer of a good coupon,
    // the reason an admin gave for cancelling a void one.
    const reason = state === "void" && coupon && coupon.void_reason;
    const more = message || (state === "valid" && coupon && coupon.offer) || reason;
    tell(title.textContent + (more ? ": " + more : ""));
    details.replaceChildren();
    if (message) row("", message);
    if (coupon) {
      row("Code", coupon.code);
      row("Offer", coupon.offer);
      row("Guest", coupon.subscriber);
      row("Expires", formatTime(coupon.expires_at));
      if (reason) row("Reason", reason);
      if (coupon.redeemed_at) row("Used", formatTime(coupon.redeemed_at) + (coupon.redeemed_by ? " by " + coupon.redeemed_by : ""));
    }
    redeemButton.hidden = state !== "valid";
    undoButton.hidden = !(state === "redeemed" || (state === "already_redeemed" && mayUndo(coupon)));
    reveal();
  }

  // The same rule the server applies to a desk's undo (no reason given): this account's
  // own redemption, not undone, within the window. The day's list holds exactly this
  // account's redemptions, so a coupon's redemption_id found there is its own.
  function undoable(item) {
    return !item.undone_at && Date.now() - new Date(item.redeemed_at).getTime() < UNDO_WINDOW_MS;
  }

  function mayUndo(coupon) {
    if (!coupon || coupon.redemption_id == null) return false;
    return today.some(function (item) { return item.id === coupon.redemption_id && undoable(item); });
  }

  // On a phone with the keyboard open the card lands below the fold, and the page does
  // not follow it there by itself: bring the card, or at least its buttons, into view.
  // Scrolling, unlike focus(), leaves the focus in the code box (see lookUp).
  function reveal() {
    result.scrollIntoView({ block: "nearest" });
    actions.scrollIntoView({ block: "nearest" });
  }

  function stateOf(response) {
    if (response.status === 200) {
      const status = response.data.status;
      if (status === "issued") return "valid";
      if (status === "redeemed") return "already_redeemed";
      return status;
    }
    return (response.data.error && response.data.error.code) || "error";
  }

  // The desk waits for one answer at a time. A code submitted meanwhile (a scanner's
  // next coupon) is looked up once the answer is in, never dropped.
  function idle() {
    busy = false;
    if (waiting === null) return;
    const next = waiting;
    waiting = null;
    lookUp(next);
  }

  async function lookUp(raw) {
    const code = normalise(raw);
    if (!code) return;
    if (busy) { waiting = raw; return; }
    const now = Date.now();
    if (code === lastSubmit.code && now - lastSubmit.at < REPEAT_SCAN_MS) return;
    lastSubmit = { code: code, at: now };
    busy = true;
    // Selected while it is looked up, the code gives way to the next one typed, which
    // was otherwise added to its end (and then cut by the select below).
    if (normalise(input.value) === code) input.select();
    let state = null;
    try {
      const response = await call("GET", "/api/v1/coupons/" + encodeURIComponent(code));
      // No answer: let the same code be tried again at once.
      if (response.status === 0) lastSubmit = { code: "", at: 0 };
      current = code;
      const coupon = response.status === 200 ? response.data : response.data.coupon;
      const message = response.status === 200 ? null : response.data.error && response.data.error.message;
      state = stateOf(response);
      // Used here, maybe on another tab or tablet of this account: the list read at
      // load time may not know it yet, and Undo depends on it.
      if (state === "already_redeemed" && !mayUndo(coupon)) await loadToday();
      show(state, coupon, message);
    } finally {
      // A good coupon: Redeem takes the focus, so the next Enter (or Space) redeems it,
      // and its outline shows that it will. A scanner's next code still goes to the box
      // (see takeTypingBack), so its Enter checks that code. Only if nothing was typed
      // into the box meanwhile: a code on its way is left to arrive there, unselected.
      // Otherwise the box keeps the focus for the next code. No scrolling either way:
      // the card was just brought into view.
      const untouched = normalise(input.value) === code;
      if (state === "valid" && untouched && waiting === null) {
        redeemButton.focus({ preventScroll: true, focusVisible: true });
      } else {
        input.focus({ preventScroll: true });
        if (untouched) input.select();
      }
      idle();
    }
  }

  // While Redeem has the focus, typing starts a new code in the box: a keyboard-wedge
  // scanner types the next code and presses Enter, which on Redeem would redeem the
  // coupon on screen. Its first character is put in the box and the rest follow it
  // there; Enter then checks that code. Space and Enter stay Redeem's.
  function takeTypingBack(event) {
    if (event.key.length !== 1 || event.key === " " || event.isComposing) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    input.value = event.key;
    input.focus({ preventScroll: true });
    input.setSelectionRange(input.value.length, input.value.length);
  }

  async function redeem() {
    if (!current || busy) return;
    busy = true;
    redeemButton.disabled = true;
    try {
      const response = await call("POST", "/api/v1/coupons/" + encodeURIComponent(current) + "/redeem");
      if (response.status === 200) {
        show("redeemed", response.data);
      } else {
        show(stateOf(response), response.data.coupon, response.data.error && response.data.error.message);
      }
      loadToday();
    } finally {
      redeemButton.disabled = false;
      input.focus({ preventScroll: true });
      idle();
    }
  }

  async function undo(code) {
    if (busy) return;
    busy = true;
    try {
      const response = await call("POST", "/api/v1/coupons/" + encodeURIComponent(code) + "/undo", {});
      if (response.status === 200) {
        show("undone", response.data, "The coupon can be used again.");
      } else {
        show(stateOf(response), response.data.coupon, response.data.error && response.data.error.message);
      }
      loadToday();
    } finally {
      input.focus({ preventScroll: true });
      idle();
    }
  }

  async function loadToday() {
    const response = await call("GET", "/api/v1/desk/redemptions");
    if (response.status !== 200) {
      // Still "Loading…" from the page: say it did not come, rather than wait for ever.
      if (todayList.getAttribute("aria-busy") === "true") {
        todayList.replaceChildren();
        const li = document.createElement("li");
        li.className = "fine";
        li.textContent = "The list could not be loaded. Reload the page to try again.";
        todayList.append(li);
        todayList.removeAttribute("aria-busy");
      }
      return;
    }
    today = response.data.items;
    todayList.removeAttribute("aria-busy");
    todayList.replaceChildren();
    if (!response.data.items.length) {
      const li = document.createElement("li");
      li.className = "fine";
      li.textContent = "None yet.";
      todayList.append(li);
      return;
    }
    for (const item of response.data.items) {
      const li = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = formatClock(item.redeemed_at) + " \u00b7 " + item.code + " \u00b7 " +
        (item.subscriber || "") + (item.undone_at ? " (undone)" : "");
      li.append(text);
      if (undoable(item)) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button secondary small";
        button.textContent = "Undo";
        // Each row's button says whose redemption it undoes.
        button.setAttribute("aria-label", "Undo " + item.code + (item.subscriber ? " (" + item.subscriber + ")" : ""));
        button.addEventListener("click", function () { undo(item.code); });
        li.append(" ", button);
      }
      todayList.append(li);
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    lookUp(input.value);
  });
  redeemButton.addEventListener("click", redeem);
  redeemButton.addEventListener("keydown", takeTypingBack);
  undoButton.addEventListener("click", function () { if (current) undo(current); });

  // Camera scanning: the browser's BarcodeDetector where it exists, jsQR otherwise.
  const scanButton = document.getElementById("scan-button");
  const scanner = document.getElementById("scanner");
  const video = document.getElementById("scanner-video");
  const canvas = document.getElementById("scanner-canvas");
  let stream = null;

  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    scanner.hidden = true;
  }

  async function detector() {
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) {
          const native = new window.BarcodeDetector({ formats: ["qr_code"] });
          return async function () {
            const codes = await native.detect(video);
            return codes.length ? codes[0].rawValue : null;
          };
        }
      } catch (e) { /* fall through to jsQR */ }
    }
    const context = canvas.getContext("2d", { willReadFrequently: true });
    return async function () {
      if (!video.videoWidth || typeof window.jsQR !== "function") return null;
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0);
      const frame = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(frame.data, frame.width, frame.height);
      return found ? found.data : null;
    };
  }

  async function startCamera() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (e) {
      show("error", null, "The camera is not available. Type the code instead.");
      return;
    }
    scanner.hidden = false;
    video.srcObject = stream;
    await video.play();
    const detect = await detector();
    const tick = async function () {
      if (!stream) return;
      const text = await detect();
      if (text) {
        stopCamera();
        input.value = text;
        lookUp(text);
        return;
      }
      window.setTimeout(tick, 150);
    };
    tick();
  }

  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    scanButton.hidden = false;
    scanButton.addEventListener("click", startCamera);
  }
  document.getElementById("scan-stop").addEventListener("click", stopCamera);
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || scanner.hidden) return;
    stopCamera();
    input.focus();
  });
  // The page's Check is disabled until here: without this script it does nothing.
  document.getElementById("lookup-button").disabled = false;

  loadToday();
})();

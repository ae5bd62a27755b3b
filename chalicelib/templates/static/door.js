/* The door page (README, "Check-in at the door"). No framework, no build step.

   The door link's token is the URL's fragment (#...): it never reaches a server log. Every call
   sends it as "Authorization: Bearer <token>" to the JSON routes under door/ (same origin); a 401
   door-link-* answer (RFC 6750) stops the page with its message.
   A code reaches handleCode() from the camera (the browser's BarcodeDetector where there is one,
   else jsQR on video frames drawn into a canvas), from the code field, or from a search result's
   button; it answers at once in large type and colour. The figures are polled every few seconds. */
(function () {
  "use strict";
  var root = document.getElementById("door");
  if (!root) { return; }
  var text = root.dataset;
  var token = decodeURIComponent(window.location.hash.replace(/^#/, ""));
  var lang = root.dataset.lang;
  var POLL_MS = 5000;
  var SCAN_MS = 200;
  var SAME_CODE_MS = 4000;
  var stopped = false;
  var busy = false;
  var lastCode = null;
  var lastCodeAt = 0;
  var pollTimer = null;

  var el = function (id) { return document.getElementById(id); };
  var result = el("door-result");
  var undoButton = el("door-undo");
  var cameraButton = el("door-camera");
  var cameraNote = el("door-camera-note");
  var video = el("door-video");

  function url(path) {
    var base = new URL(root.dataset.api + path, window.location.href);
    base.searchParams.set("lang", lang);
    return base.toString();
  }

  function call(path, body) {
    var options = {
      method: body === undefined ? "GET" : "POST",
      headers: { "Authorization": "Bearer " + token, "Accept": "application/json" },
      cache: "no-store",
      credentials: "omit"
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url(path), options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.status === 401 && data && /door-link/.test(data.type || "")) {
          refused(data);
          throw new Error("door link refused");
        }
        if (!response.ok) { throw new Error((data && data.title) || String(response.status)); }
        return data;
      });
    });
  }

  function showResult(tone, title, name, organisation, detail, undoCode, note) {
    var noteLine = el("door-result-note");
    result.hidden = false;
    result.dataset.tone = tone;
    el("door-result-title").textContent = title;
    el("door-result-name").textContent = name || "";
    el("door-result-organisation").textContent = organisation || "";
    el("door-result-detail").textContent = detail || "";
    /* an early check-in (before the event's day) or what to do about an unknown code, from the answer */
    noteLine.textContent = note || "";
    noteLine.hidden = !note;
    undoButton.hidden = !undoCode;
    undoButton.dataset.code = undoCode || "";
    if (navigator.vibrate) { navigator.vibrate(tone === "ok" ? 120 : [80, 60, 80, 60, 80]); }
  }

  function show(answer) {
    var person = answer.person;
    var canUndo = person && (answer.outcome === "checked_in" || answer.outcome === "already_checked_in");
    var detail = answer.outcome === "checked_in" && person.time ? text.textCheckedInAt.replace("{time}", person.time) : "";
    result.dataset.outcome = answer.outcome;
    result.dataset.early = answer.early ? "true" : "false";
    showResult(answer.tone, answer.title, person && person.name, person && person.organisation, detail,
               canUndo ? person.code : null, answer.note);
  }

  function refused(problem) {
    stopped = true;
    stopCamera();
    if (pollTimer) { window.clearInterval(pollTimer); }
    result.dataset.outcome = problem.type.replace("/problems/", "");
    showResult("stop", problem.title, "", "", problem.detail, null);
    Array.prototype.forEach.call(root.querySelectorAll("input, button"), function (control) { control.disabled = true; });
  }

  function networkError(error) {
    if (!stopped) { showResult("stop", text.textError, "", "", error && error.message, null); }
  }

  function refresh() {
    if (stopped || document.hidden) { return; }
    call("/summary").then(function (summary) {
      el("door-count").textContent = summary.count_text;
      el("door-expiry").textContent = summary.link_valid_text;
    }).catch(function () { /* the next poll tries again; a refused link has been shown */ });
  }

  /* Every code, scanned, typed or chosen from a search, goes through here. */
  function handleCode(code) {
    if (stopped || busy || !code) { return Promise.resolve(); }
    busy = true;
    return call("/checkins", { code: code }).then(function (answer) {
      show(answer);
      refresh();
    }).catch(networkError).then(function () { busy = false; });
  }

  undoButton.addEventListener("click", function () {
    var code = undoButton.dataset.code;
    if (!code || busy) { return; }
    busy = true;
    call("/undo", { code: code }).then(function (answer) {
      show(answer);
      refresh();
    }).catch(networkError).then(function () { busy = false; });
  });

  el("door-code-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = el("door-code");
    handleCode(input.value.trim()).then(function () {
      if (result.dataset.outcome === "checked_in") { input.value = ""; }
    });
  });

  el("door-search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var list = el("door-search-results");
    var note = el("door-search-note");
    call("/search", { query: el("door-search").value }).then(function (answer) {
      list.textContent = "";
      note.textContent = answer.results.length ? (answer.more ? text.textSearchMore : "") : text.textSearchNone;
      answer.results.forEach(function (person) {
        var item = document.createElement("li");
        var who = document.createElement("div");
        var name = document.createElement("span");
        name.className = "door-person-name";
        name.textContent = person.name;
        who.appendChild(name);
        if (person.organisation) {
          var organisation = document.createElement("span");
          organisation.className = "door-person-organisation";
          organisation.textContent = person.organisation;
          who.appendChild(organisation);
        }
        if (person.time) {
          var state = document.createElement("span");
          state.className = "door-person-state";
          state.textContent = text.textCheckedInAt.replace("{time}", person.time);
          who.appendChild(state);
        }
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = text.textCheckinButton;
        button.setAttribute("aria-label", text.textCheckinButton + ": " + person.name);
        button.addEventListener("click", function () { handleCode(person.code); });
        item.appendChild(who);
        item.appendChild(button);
        list.appendChild(item);
      });
    }).catch(function (error) { note.textContent = error.message; });
  });

  /* ---- the camera ---- */

  var stream = null;
  var detector = null;
  var canvas = null;

  function chooseScanner() {
    if ("BarcodeDetector" in window) {
      return Promise.resolve(window.BarcodeDetector.getSupportedFormats ? window.BarcodeDetector.getSupportedFormats() : ["qr_code"])
        .then(function (formats) {
          if (formats.indexOf("qr_code") >= 0) {
            detector = new window.BarcodeDetector({ formats: ["qr_code"] });
            return "barcode-detector";
          }
          return window.jsQR ? "jsqr" : "none";
        }).catch(function () { return window.jsQR ? "jsqr" : "none"; });
    }
    return Promise.resolve(window.jsQR ? "jsqr" : "none");
  }

  function decodeFrame() {
    if (detector) {
      return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
    }
    var scale = Math.min(1, 640 / Math.max(video.videoWidth, video.videoHeight));
    var width = Math.max(1, Math.round(video.videoWidth * scale));
    var height = Math.max(1, Math.round(video.videoHeight * scale));
    canvas = canvas || document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    var context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0, width, height);
    var found = window.jsQR(context.getImageData(0, 0, width, height).data, width, height, { inversionAttempts: "dontInvert" });
    return Promise.resolve(found ? found.data : null);
  }

  function scanLoop() {
    if (!stream || stopped) { return; }
    var next = function () { window.setTimeout(scanLoop, SCAN_MS); };
    if (busy || video.readyState < 2 || !video.videoWidth) { next(); return; }
    decodeFrame().then(function (code) {
      var now = Date.now();
      if (code && !(code === lastCode && now - lastCodeAt < SAME_CODE_MS)) {
        lastCode = code;
        lastCodeAt = now;
        return handleCode(code);
      }
      if (code) { lastCodeAt = now; }
      return null;
    }).catch(function () { /* a frame that could not be read: try the next one */ }).then(next);
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraNote.textContent = text.textCameraDenied;
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (media) {
      stream = media;
      video.srcObject = media;
      video.hidden = false;
      cameraButton.textContent = text.textCameraStop;
      cameraButton.setAttribute("aria-pressed", "true");
      cameraNote.textContent = text.textCameraHelp;
      return video.play();
    }).then(scanLoop).catch(function () {
      stopCamera();
      cameraNote.textContent = text.textCameraDenied;
    });
  }

  function stopCamera() {
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
    stream = null;
    video.hidden = true;
    video.srcObject = null;
    cameraButton.textContent = text.textCameraStart;
    cameraButton.setAttribute("aria-pressed", "false");
  }

  cameraButton.addEventListener("click", function () {
    if (stream) { stopCamera(); } else { startCamera(); }
  });

  chooseScanner().then(function (scanner) {
    root.dataset.scanner = scanner;
    if (scanner === "none") {
      cameraButton.hidden = true;
      cameraNote.textContent = text.textCameraNone;
    }
  });

  document.addEventListener("visibilitychange", refresh);
  refresh();
  pollTimer = window.setInterval(refresh, POLL_MS);
})();

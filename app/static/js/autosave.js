// Autosave for narrative answers: debounced while typing, on blur and when leaving the page.
// A stale tab gets the conflict from the server and lets the person choose; an expired
// login keeps the text in the page and retries after logging in again.
(function () {
  "use strict";
  var DELAY = 1200;

  function csrf() { return document.body.dataset.csrfToken || ""; }

  function setup(form) {
    if (form.dataset.autosaveReady) return;
    form.dataset.autosaveReady = "1";
    var url = form.dataset.autosave;
    var textarea = form.querySelector("textarea[name=text]");
    var versionInput = form.querySelector("[data-version]");
    var status = form.querySelector(".save-status");
    var counter = textarea && document.getElementById(textarea.dataset.counter);
    var timer = null, inFlight = null, dirty = false, waitingForLogin = false;
    var labels = document.getElementById("autosave-labels");
    function label(name) { return labels ? labels.dataset[name] : ""; }

    function payload() {
      var data = new FormData();
      data.append("csrf_token", csrf());
      data.append("version", versionInput.value);
      data.append("text", textarea ? textarea.value : "");
      form.querySelectorAll("input[name=words]").forEach(function (input) {
        data.append("words", input.value);
      });
      return data;
    }

    function show(message) { if (status) status.textContent = message; }

    function updateCounter() {
      if (!counter || !textarea) return;
      var max = textarea.dataset.limit || textarea.getAttribute("maxlength");
      counter.textContent = label("counter").replace("{count}", textarea.value.length).replace("{limit}", max);
    }

    function save() {
      clearTimeout(timer);
      // A running save must finish first, also when nothing changed since it started:
      // the wizard's submit waits on this promise for the newest version.
      if (inFlight) return inFlight.then(save);
      if (!dirty) return Promise.resolve();
      dirty = false;
      show(label("saving"));
      inFlight = fetch(url, {
        method: "POST", body: payload(), credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf(), "HX-Request": "true" }
      }).then(function (response) {
        if (response.status === 401) {
          dirty = true; waitingForLogin = true;
          show(label("loggedOut"));
          return response.text().then(function (html) {
            var dialog = document.getElementById("session-dialog");
            dialog.innerHTML = html;
            if (window.htmx) window.htmx.process(dialog);
            var email = dialog.querySelector("input[type=email]");
            if (email) email.focus();
          });
        }
        return response.json().then(function (body) {
          if (response.ok) {
            versionInput.value = body.version;
            show(body.message);
          } else if (response.status === 409 && body.conflict) {
            showConflict(body);
          } else if (response.status === 429) {
            // Saving too often: keep the text and try again when the server says so.
            dirty = true;
            show(body.error || label("failed"));
            timer = setTimeout(save, Math.max(1, Number(body.retry_after) || 5) * 1000);
          } else {
            show(body.error || label("failed"));
          }
        });
      }).catch(function () {
        dirty = true;
        show(label("offline"));
        timer = setTimeout(save, 5000);
      }).finally(function () { inFlight = null; });
      return inFlight;
    }

    function showConflict(body) {
      var panel = form.querySelector(".autosave-conflict");
      if (!panel) {
        panel = document.createElement("section");
        panel.className = "conflict autosave-conflict";
        panel.setAttribute("role", "alert");
        form.insertBefore(panel, form.firstChild);
      }
      panel.innerHTML = "";
      var title = document.createElement("h2"); title.textContent = label("conflictTitle");
      var intro = document.createElement("p"); intro.textContent = label("conflictIntro");
      var saved = document.createElement("pre"); saved.className = "mail-body"; saved.textContent = body.text;
      var keepMine = document.createElement("button");
      keepMine.type = "button"; keepMine.className = "button"; keepMine.textContent = label("keepMine");
      var useSaved = document.createElement("button");
      useSaved.type = "button"; useSaved.className = "button button--secondary"; useSaved.textContent = label("useSaved");
      keepMine.addEventListener("click", function () {
        versionInput.value = body.version; dirty = true; panel.remove(); save();
      });
      useSaved.addEventListener("click", function () {
        versionInput.value = body.version; textarea.value = body.text;
        var words = form.querySelectorAll("input[name=words]");
        (body.words || []).forEach(function (w, i) { if (words[i]) words[i].value = w; });
        panel.remove(); updateCounter(); show("");
      });
      var heading = document.createElement("h3"); heading.textContent = label("savedVersion");
      panel.append(title, intro, heading, saved, keepMine, document.createTextNode(" "), useSaved);
      show(label("conflictTitle"));
    }

    function changed() {
      dirty = true;
      updateCounter();
      clearTimeout(timer);
      timer = setTimeout(save, DELAY);
    }

    form.addEventListener("input", function (event) {
      if (event.target.name === "text" || event.target.name === "words") changed();
    });
    form.addEventListener("focusout", function () { if (dirty) save(); });
    document.addEventListener("dyade:relogin", function () {
      if (!form.isConnected) return;  // a step swapped out by htmx
      if (waitingForLogin) { waitingForLogin = false; save(); }
    });
    // Leaving the page: a beacon survives the unload where fetch would be cancelled.
    window.addEventListener("pagehide", function () {
      if (!form.isConnected) return;
      if (dirty && navigator.sendBeacon) { navigator.sendBeacon(url, payload()); dirty = false; }
    });
    document.addEventListener("visibilitychange", function () {
      if (!form.isConnected) return;
      if (document.visibilityState === "hidden" && dirty) save();
    });
    // The wizard's own submit must carry the newest version: wait for a running save.
    form.addEventListener("htmx:confirm", function (event) {
      if (!inFlight && !dirty) return;
      event.preventDefault();
      save().then(function () { event.detail.issueRequest(true); });
    });
    form.addEventListener("htmx:configRequest", function (event) {
      event.detail.parameters.set ? event.detail.parameters.set("version", versionInput.value)
        : (event.detail.parameters.version = versionInput.value);
    });
  }

  function scan(root) {
    (root || document).querySelectorAll("form[data-autosave]").forEach(setup);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt.parentNode || document); });
})();

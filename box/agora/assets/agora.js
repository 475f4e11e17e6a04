// agora: optional enhancements. Every action works without this file.
(function () {
  "use strict";
  var parser = new DOMParser();

  // Replace a live element (#board, #results) by its fresh copy from data-src.
  function refresh(el) {
    if (el.contains(document.activeElement) && document.activeElement.tagName !== "BUTTON") {
      el.dataset.pending = "1";
      return;
    }
    fetch(el.dataset.src, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = parser.parseFromString(html, "text/html").getElementById(el.id);
        if (fresh) el.innerHTML = fresh.innerHTML;
      })
      .catch(function () {});
  }

  document.querySelectorAll("[data-events]").forEach(function (el) {
    if (!window.EventSource) return;
    var status = document.getElementById("live-status");
    var es = new EventSource(el.dataset.events);
    var update = function () { refresh(el); };
    es.addEventListener("board", update);
    es.addEventListener("results", update);
    es.onopen = function () { if (status) status.textContent = "\u25cf"; };
    es.onerror = function () { if (status) status.textContent = "\u25cb"; };
    el.addEventListener("focusout", function () {
      setTimeout(function () {
        if (el.dataset.pending && !el.contains(document.activeElement)) {
          delete el.dataset.pending;
          refresh(el);
        }
      }, 0);
    });
  });

  // Board forms: post in the background, then show the fresh board.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var board = document.getElementById("board");
    if (!board || !board.contains(form) || form.enctype === "multipart/form-data") return;
    ev.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    if (ev.submitter && ev.submitter.name) body.append(ev.submitter.name, ev.submitter.value);
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.text().then(function (t) { return { ok: r.ok, text: t }; }); })
      .then(function (res) {
        var doc = parser.parseFromString(res.text, "text/html");
        var fresh = doc.getElementById("board");
        if (res.ok && fresh) {
          board.innerHTML = fresh.innerHTML;
        } else {
          document.open(); document.write(res.text); document.close();
        }
      })
      .catch(function () { form.submit(); });
  });
})();

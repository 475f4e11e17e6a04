// agora: optional enhancements. Every action works without this file.
(function () {
  "use strict";
  var parser = new DOMParser();

  // Put `fresh`'s content in `el` unless it is the same (an echo of one's
  // own change): nothing under the visitor's finger is replaced for
  // nothing. With `keepOpen` (another's change), a note's tools left open
  // stay open.
  function swap(el, fresh, keepOpen) {
    var open = [];
    el.querySelectorAll("details[open]").forEach(function (d) {
      var owner = d.parentElement && d.parentElement.closest("[id]");
      if (owner) open.push(owner.id);
    });
    var now = el.cloneNode(true);
    now.querySelectorAll("details[open]").forEach(function (d) { d.removeAttribute("open"); });
    if (now.innerHTML === fresh.innerHTML) return;
    el.innerHTML = fresh.innerHTML;
    if (keepOpen) open.forEach(function (id) {
      var owner = document.getElementById(id);
      var d = owner && owner.querySelector("details");
      if (d) d.open = true;
    });
  }

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
        if (fresh) swap(el, fresh, true);
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

  // Post to the board in the background, then show the fresh board.
  function post(url, body) {
    var board = document.getElementById("board");
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.text().then(function (t) { return { ok: r.ok, text: t }; }); })
      .then(function (res) {
        var fresh = parser.parseFromString(res.text, "text/html").getElementById("board");
        if (res.ok && fresh && board) {
          swap(board, fresh, false);
        } else {
          document.open(); document.write(res.text); document.close();
        }
      });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var board = document.getElementById("board");
    if (!board || !board.contains(form)) return;
    ev.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    if (ev.submitter && ev.submitter.name) body.append(ev.submitter.name, ev.submitter.value);
    post(form.action, body).catch(function () { form.submit(); });
  });

  // Drag a note to a column (desktop browsers); the move form does the same by hand.
  function closest(el, sel) { return el && el.closest ? el.closest(sel) : null; }
  document.addEventListener("dragstart", function (ev) {
    var note = closest(ev.target, "#board .note");
    if (!note) return;
    ev.dataTransfer.setData("text/plain", note.id);
    ev.dataTransfer.effectAllowed = "move";
  });
  document.addEventListener("dragover", function (ev) {
    if (closest(ev.target, "#board .column")) ev.preventDefault();
  });
  document.addEventListener("drop", function (ev) {
    var col = closest(ev.target, "#board .column");
    if (!col) return;
    ev.preventDefault();
    var note = document.getElementById(ev.dataTransfer.getData("text/plain"));
    var form = note && note.querySelector("form.note-move");
    if (!form) return;
    var others = Array.prototype.filter.call(col.querySelectorAll(".note"), function (n) { return n !== note; });
    var pos = others.length;
    for (var i = 0; i < others.length; i++) {
      var r = others[i].getBoundingClientRect();
      if (ev.clientY < r.top + r.height / 2) { pos = i; break; }
    }
    var body = new URLSearchParams();
    body.append("csrf", form.querySelector("[name=csrf]").value);
    body.append("column", col.dataset.column);
    body.append("position", String(pos));
    post(form.action, body).catch(function () {});
  });
})();

// SMS appear by themselves on an open rental page and on the inventory list.
//
// Each page asks a small JSON view every POLL_MS while the tab is visible: one request at a time, a
// growing pause after a failure (a restart, a lost connection, an expired login), nothing kept from
// one round to the next, so a page left open for hours neither leaks nor gives up.
// Text from SMS is only ever set with textContent: it never becomes markup.
(function () {
  "use strict";

  var POLL_MS = 1500;
  var MAX_PAUSE_MS = 15000;
  var NEW_FOR_MS = 8000;

  function keepPolling(url, apply, onTrouble) {
    var pause = POLL_MS;
    function round() {
      if (document.hidden) {
        setTimeout(round, POLL_MS);
        return;
      }
      fetch(url(), { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (!response.ok || type.indexOf("json") === -1) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          apply(data);
          pause = POLL_MS;
          onTrouble(false);
        })
        .catch(function () {
          pause = Math.min(pause * 2, MAX_PAUSE_MS);
          onTrouble(true);
        })
        .then(function () {
          setTimeout(round, pause);
        });
    }
    setTimeout(round, POLL_MS);
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function copyButton(code, label) {
    var button = element("button", "copy-code", code);
    button.type = "button";
    button.setAttribute("data-code", code);
    button.title = label;
    return button;
  }

  function markNew(node) {
    node.classList.add("live-new");
    setTimeout(function () { node.classList.remove("live-new"); }, NEW_FOR_MS);
  }

  // --- one-click copy of a code, wherever a copy button is --------------------------------------

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = element("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var copied = document.execCommand("copy");
    document.body.removeChild(area);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".copy-code") : null;
    if (!button) return;
    event.preventDefault();
    var code = button.getAttribute("data-code");
    var holder = document.querySelector("[data-copied-label]");
    var done = holder ? holder.getAttribute("data-copied-label") : "Copied";
    copyText(code).then(function () {
      button.setAttribute("data-copied", done);  // laid over the code by CSS: the button keeps its size
      button.classList.add("copied");
      setTimeout(function () { button.classList.remove("copied"); }, 2000);
    }, function () {
      window.prompt("", code);
    });
  });

  // --- a rental's page ---------------------------------------------------------------------------

  function rentalPage(panel) {
    var list = panel.querySelector(".live-sms-list");
    var waiting = panel.querySelector(".live-sms-waiting");
    var ended = panel.querySelector(".live-sms-ended");
    var trouble = panel.querySelector(".live-sms-trouble");
    var table = panel.querySelector("table");
    var copyLabel = panel.getAttribute("data-copy-label");
    // What the rows show (forwarding included), as the page drew them: redrawn only when it changes.
    var first = JSON.parse(document.getElementById("live-sms-first").textContent);
    var drawn = JSON.stringify(first);
    var shown = first.map(function (sms) { return String(sms.id); });

    function render(data) {
      waiting.hidden = !(data.active && data.messages.length === 0);
      table.hidden = data.messages.length === 0;  // column headings over no SMS read as a broken list
      ended.hidden = data.active;
      ended.textContent = panel.getAttribute("data-ended-label") + " " + data.status;
      var now = JSON.stringify(data.messages);
      if (now === drawn) return;
      drawn = now;
      var before = shown;
      shown = data.messages.map(function (sms) { return String(sms.id); });
      list.textContent = "";
      data.messages.forEach(function (sms) {
        var row = element("tr", "live-sms-row");
        row.setAttribute("data-sms-id", sms.id);
        row.appendChild(element("td", "live-sms-time", sms.received));
        var codeCell = element("td", "live-sms-code");
        if (sms.code) codeCell.appendChild(copyButton(sms.code, copyLabel));
        row.appendChild(codeCell);
        row.appendChild(element("td", "live-sms-sender", sms.sender));
        row.appendChild(element("td", "live-sms-text", sms.text));
        row.appendChild(element("td", "live-sms-forwarded", sms.forwarded));
        if (before.indexOf(String(sms.id)) === -1) markNew(row);
        list.appendChild(row);
      });
    }

    keepPolling(function () { return panel.getAttribute("data-url"); }, render, function (failing) {
      trouble.hidden = !failing;
    });
  }

  // --- the inventory list ------------------------------------------------------------------------

  function inventory(root) {
    var trouble = root.querySelector(".live-sms-trouble");
    var copyLabel = root.getAttribute("data-copy-label");

    function rows() {
      return Array.prototype.slice.call(document.querySelectorAll("#result_list [data-rental-id]"));
    }

    function url() {
      var ids = rows().map(function (node) { return node.getAttribute("data-rental-id"); });
      return root.getAttribute("data-url") + "?ids=" + ids.join(",");
    }

    function render(data) {
      rows().forEach(function (node) {
        var fresh = data.rentals[node.getAttribute("data-rental-id")];
        var row = node.closest("tr");
        var textCell = row.querySelector("td.field-last_sms");
        var codeCell = row.querySelector("td.field-code_to_copy");
        if (!fresh || !fresh.received || !textCell || !codeCell) return;
        var shown = textCell.querySelector(".live-last-sms");
        if (shown && shown.getAttribute("data-received") === fresh.received) return;
        shown = element("span", "live-last-sms", fresh.text);
        shown.setAttribute("data-received", fresh.received);
        shown.title = fresh.received;
        textCell.textContent = "";
        textCell.appendChild(shown);
        codeCell.textContent = "";
        if (fresh.code) codeCell.appendChild(copyButton(fresh.code, copyLabel));
        markNew(row);
      });
    }

    if (rows().length) {
      keepPolling(url, render, function (failing) { trouble.hidden = !failing; });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("live-sms");
    if (panel) rentalPage(panel);
    var list = document.getElementById("live-sms-inventory");
    if (list) inventory(list);
  });
})();

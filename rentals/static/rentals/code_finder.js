// A code finds its person, whichever tab or site they are on (every Rentdesk page, admin/base_site.html).
//
// Each open Rentdesk tab asks the server for the codes that came since its last look for the rentals
// its person is assigned to, rented or has open in it: every VISIBLE_MS while it is seen, every
// HIDDEN_MS while it is not (someone on the site they log into keeps a Rentdesk tab in the background).
// A new code shows in the tab's title, "(1) 4321 – …", until the tab is seen again, and as a desktop
// notification unless they turned that off (their "my SMS forwarding" page). The browser's permission
// is asked once, at their first click on a Rentdesk page: browsers ignore, or hold against a site, an
// ask that no click led to. One tag per SMS: several open tabs show one notification, not several.
//
// Its clock is a dedicated worker (code_finder_timer.js): Chrome wakes the timers of a page hidden for
// 5 minutes once a minute at most, which would make HIDDEN_MS a minute; a worker's timers keep their
// time. Where no worker can start (an older browser, static files on another origin), the page's own
// setTimeout does, throttled as it may be.
(function () {
  "use strict";

  var VISIBLE_MS = 1500;
  var HIDDEN_MS = 10000;
  var MAX_PAUSE_MS = 60000;
  var ASKED_KEY = "rentdesk-notifications-asked";

  var script = document.currentScript;
  var url = script ? script.getAttribute("data-url") : null;
  var clockUrl = script ? script.getAttribute("data-clock") : null;
  var clock = null; // the worker that wakes this tab; null: the page's own timers
  var waiting = false; // the worker has a wake-up to give
  var notify = false;
  var last = null; // the newest SMS id this tab knows of; null until its first answer
  var unseen = [];
  var title = null;
  var pause = 0;

  // The rental this tab shows, if it is a rental's page (its live SMS panel names it).
  function openRentals() {
    var panel = document.getElementById("live-sms");
    var found = panel ? /\/(\d+)\/sms\.json/.exec(panel.getAttribute("data-url") || "") : null;
    return found ? [found[1]] : [];
  }

  function mayNotify() {
    return notify && "Notification" in window;
  }

  function showInTitle(sms) {
    if (title === null) title = document.title;
    unseen.push(sms);
    document.title = "(" + unseen.length + ") " + sms.code + " – " + title;
  }

  function showOnDesktop(sms) {
    if (!mayNotify() || !sms.notify || Notification.permission !== "granted") return;
    var shown = new Notification(sms.code, { body: sms.text, tag: "rentdesk-sms-" + sms.id });
    shown.onclick = function () {
      window.focus();
      window.location.href = sms.url;
      shown.close();
    };
  }

  function arrived(sms) {
    // Seen already: the rental's own page, in front, lists it as it comes.
    if (!document.hidden && openRentals().indexOf(String(sms.rental)) !== -1) return;
    showInTitle(sms);
    showOnDesktop(sms);
  }

  function address() {
    if (last === null) return url;
    return url + "?after=" + last + "&open=" + openRentals().join(",");
  }

  function check() {
    fetch(address(), { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("json") === -1) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (last === null) {
          notify = data.notify;
        } else {
          data.codes.forEach(arrived);
        }
        last = data.last;
        pause = 0;
      })
      .catch(function () {
        // A restart, a lost connection, an expired login: ask again, less and less often.
        pause = Math.min(pause ? pause * 2 : VISIBLE_MS * 2, MAX_PAUSE_MS);
      })
      .then(function () {
        later(pause || (document.hidden ? HIDDEN_MS : VISIBLE_MS));
      });
  }

  function later(wait) {
    if (clock) {
      waiting = true;
      clock.postMessage(wait);
    } else {
      setTimeout(check, wait);
    }
  }

  function woken() {
    waiting = false;
    check();
  }

  function startClock() {
    if (!clockUrl || !("Worker" in window)) return;
    try {
      clock = new Worker(clockUrl);
    } catch (error) {
      return; // refused (another origin, a policy): the page's timers
    }
    clock.onmessage = woken;
    clock.onerror = function () {
      // It could not load: the page's own timers from now on, for the wait it was given too.
      clock = null;
      if (waiting) setTimeout(woken, VISIBLE_MS);
    };
  }

  function seen() {
    if (document.hidden || title === null) return;
    document.title = title;
    title = null;
    unseen = [];
  }

  function askOnce() {
    if (!mayNotify() || Notification.permission !== "default") return;
    try {
      if (window.localStorage.getItem(ASKED_KEY)) return;
      window.localStorage.setItem(ASKED_KEY, "1");
    } catch (error) { /* storage refused: asked at most once per page */ }
    document.removeEventListener("click", askOnce);
    Notification.requestPermission();
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Signed-in pages only (the login page has no user tools).
    if (!url || !document.getElementById("user-tools")) return;
    document.addEventListener("visibilitychange", seen);
    document.addEventListener("click", askOnce);
    startClock();
    check();
  });
})();

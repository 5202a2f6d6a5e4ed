// The code finder's clock (static/rentals/code_finder.js), in a dedicated worker of its own.
//
// Chrome throttles the timers of a page hidden for 5 minutes to one wake-up a minute ("intensive wake
// up throttling", chromestatus.com/feature/4718288976216064, and developer.chrome.com/blog/
// timer-throttling-in-chrome-88): a background tab's 10-second check would come once a minute. That
// applies to a window's timers; a dedicated worker's are not throttled so (the proposal to throttle
// them, chromestatus.com/feature/6334419736461312, was not pursued), so the page asks this worker to
// wake it, and does its checking itself when woken.
//
// The page posts a number of milliseconds; this answers "tick" once they have passed.
"use strict";

self.onmessage = function (event) {
  var wait = Number(event.data);
  setTimeout(function () {
    self.postMessage("tick");
  }, wait > 0 ? wait : 0);
};

// Web vitals of every document a journey opens, kept in sessionStorage (one entry per document, keyed by its
// time origin) and rewritten on each observation, so the runner can read them at any time, even after the
// journey navigated on. Injected with add_init_script: it runs before the page's own scripts and outside its CSP.
// Times are milliseconds from the document's time origin; CLS uses session windows (gap < 1 s, span < 5 s).
// INP follows the web-vitals definition: event entries grouped by interactionId, each interaction's latency the
// longest duration among its entries, and the value the longest interaction after skipping one for every 50
// interactions on the page (index min(kept - 1, floor(count / 50)) of the longest ten, longest first).
// Observers are flushed (takeRecords) when the page is hidden or left, and by window.__rxJourneyVitalsFlush,
// which the runner calls before every read (it answers whether an interaction still waits for its entry), so a
// click that navigates away still counts.
(function () {
  "use strict";
  var KEY = "__rxJourneyVitals";
  var FLUSH = "__rxJourneyVitalsFlush";
  var KEPT_INTERACTIONS = 10;  // the longest ten are enough for pages of up to 500 interactions
  var store;
  try {
    store = window.sessionStorage;
  } catch (error) {
    return;
  }
  if (!store || !/^https?:$/.test(location.protocol) || window.top !== window) {
    return;
  }
  var entry = {url: location.pathname, origin: performance.timeOrigin, ttfb: null, fcp: null, lcp: null, cls: 0,
               inp: null, interactions: 0, load: null};
  var observers = [];
  function save() {
    try {
      var all = JSON.parse(store.getItem(KEY) || "{}");
      all[String(entry.origin)] = entry;
      store.setItem(KEY, JSON.stringify(all));
    } catch (error) {
      // storage full or blocked: vitals are best effort
    }
  }
  function observe(type, callback, options) {
    try {
      var observer = new PerformanceObserver(function (list) {
        list.getEntries().forEach(callback);
        save();
      });
      observer.observe(Object.assign({type: type, buffered: true}, options || {}));
      observers.push({observer: observer, callback: callback});
    } catch (error) {
      // entry type not supported by this browser
    }
  }
  function takeRecords() {
    observers.forEach(function (item) {
      item.observer.takeRecords().forEach(item.callback);
    });
  }
  function flush() {  // true while an interaction still waits for its entry (see inputSeen)
    takeRecords();
    updateInp();
    save();
    return pending !== null;
  }
  observe("navigation", function (nav) {
    entry.ttfb = nav.responseStart;
    if (nav.loadEventEnd > 0) {
      entry.load = nav.loadEventEnd;
    }
  });
  observe("paint", function (paint) {
    if (paint.name === "first-contentful-paint") {
      entry.fcp = paint.startTime;
    }
  });
  observe("largest-contentful-paint", function (lcp) {
    entry.lcp = lcp.startTime;
  });
  var windowValue = 0;
  var windowFirst = 0;
  var windowLast = 0;
  observe("layout-shift", function (shift) {
    if (shift.hadRecentInput) {
      return;
    }
    if (windowValue && shift.startTime - windowLast < 1000 && shift.startTime - windowFirst < 5000) {
      windowValue += shift.value;
    } else {
      windowValue = shift.value;
      windowFirst = shift.startTime;
    }
    windowLast = shift.startTime;
    entry.cls = Math.max(entry.cls, windowValue);
  });

  // ----- INP ---------------------------------------------------------------------------------------------------
  var pending = null;  // {start, frame}: the latest input whose entry may still be due (see inputSeen)
  var longest = [];  // {id, latency}, longest first, at most KEPT_INTERACTIONS
  var seenIds = {min: Infinity, max: 0};  // fallback count where performance.interactionCount is missing
  function interactionCount() {
    if (typeof performance.interactionCount === "number") {
      return performance.interactionCount;
    }
    return seenIds.max ? (seenIds.max - seenIds.min) / 7 + 1 : 0;  // ids step by 7 in Chromium
  }
  function interaction(timing) {
    var id = timing.interactionId;
    if (!id) {
      return;
    }
    if (id > 0) {
      seenIds.min = Math.min(seenIds.min, id);
      seenIds.max = Math.max(seenIds.max, id);
    }
    if (pending && timing.startTime >= pending.start - 1) {
      pending = null;  // its entry came: no need to end it at page hide
    }
    var known = null;
    for (var i = 0; i < longest.length; i++) {
      if (longest[i].id === id) {
        known = longest[i];
      }
    }
    if (known) {
      known.latency = Math.max(known.latency, timing.duration);
    } else if (longest.length < KEPT_INTERACTIONS || timing.duration > longest[longest.length - 1].latency) {
      longest.push({id: id, latency: timing.duration});
    } else {
      return;
    }
    longest.sort(function (a, b) { return b.latency - a.latency; });
    longest.length = Math.min(longest.length, KEPT_INTERACTIONS);
    updateInp();
  }
  function updateInp() {
    entry.interactions = Math.max(entry.interactions, Math.round(interactionCount()), longest.length);
    if (longest.length) {
      entry.inp = longest[Math.min(longest.length - 1, Math.floor(entry.interactions / 50))].latency;
    }
  }
  observe("event", interaction, {durationThreshold: 16});
  observe("first-input", interaction);
  // An interaction whose page is left before its next frame is presented gets no event entry in Chromium. So each
  // input is tracked from its first event: dropped if its first frame came within 16 ms (no entry is due), kept
  // until its entry arrives otherwise; if the page is hidden first, its latency ends at that first frame, or at
  // the hiding when no frame came, as the standard ends an interaction at unload.
  function inputSeen(event) {
    if (pending || !event.isTrusted) {
      return;
    }
    var mine = pending = {start: event.timeStamp, frame: null};
    requestAnimationFrame(function () {
      mine.frame = performance.now();
      if (pending === mine && mine.frame - mine.start < 16) {
        pending = null;
      }
    });
  }
  ["pointerdown", "pointerup", "click", "keydown", "keyup"].forEach(function (type) {
    addEventListener(type, inputSeen, true);
  });
  function endPending() {
    if (pending) {
      var end = pending.frame === null ? performance.now() : pending.frame;
      var latency = Math.round((end - pending.start) / 8) * 8;  // rounded as Event Timing rounds
      pending = null;
      if (latency >= 16) {
        interaction({interactionId: -1 - entry.interactions, startTime: Infinity, duration: latency});
      }
    }
  }
  function hidden() {
    takeRecords();
    endPending();
    flush();
  }
  addEventListener("pagehide", hidden, true);
  addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      hidden();
    }
  }, true);
  Object.defineProperty(window, FLUSH, {value: flush});
  save();
})();

// Web vitals of every document a journey opens, kept in sessionStorage (one entry per document, keyed by its
// time origin) and rewritten on each observation, so the runner can read them at any time, even after the
// journey navigated on. Injected with add_init_script: it runs before the page's own scripts and outside its CSP.
// Times are milliseconds from the document's time origin; CLS uses session windows (gap < 1 s, span < 5 s);
// INP is the slowest interaction seen (journeys have far fewer than 50 interactions per page).
(function () {
  "use strict";
  var KEY = "__rxJourneyVitals";
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
               inp: null, load: null};
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
    } catch (error) {
      // entry type not supported by this browser
    }
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
  function interaction(duration) {
    entry.inp = Math.max(entry.inp || 0, duration);
  }
  observe("event", function (event) {
    if (event.interactionId) {
      interaction(event.duration);
    }
  }, {durationThreshold: 16});
  observe("first-input", function (input) {
    interaction(input.duration);
  });
  addEventListener("load", function () {
    setTimeout(function () {
      var nav = performance.getEntriesByType("navigation")[0];
      entry.load = nav && nav.loadEventEnd > 0 ? nav.loadEventEnd : performance.now();
      if (nav) {
        entry.ttfb = nav.responseStart;
      }
      save();
    }, 0);
  });
  save();
})();

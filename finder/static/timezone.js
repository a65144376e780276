// Progressive enhancement: send the visitor's time zone so meeting times can be shown in it.
// The page works without it (the zone of the searched place is used instead).
(function () {
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.querySelectorAll("input.js-tz").forEach(function (el) {
      if (!el.value && tz) { el.value = tz; }
    });
  } catch (e) { /* older browsers: nothing to do */ }
})();

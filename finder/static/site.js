// Progressive enhancements; every page works without them.
// - Quick exit: the "Exit this page" link, or Escape pressed three times, replaces this page
//   with the neutral page (location.replace keeps this page out of the back button).
// - The visitor's time zone is added to searches so meeting times can be shown in it.
// - Empty boxes are left out of the search link, so it is clean to share.
// - "Use my location": the browser's position, rounded, put in the search box (never stored).
(function () {
  "use strict";
  var exit = document.querySelector(".js-quick-exit");
  function quickExit(event) {
    if (event) { event.preventDefault(); }
    document.documentElement.className += " exiting";
    document.title = "";
    var target = exit.getAttribute("target") === "_top" && window.top ? window.top : window;
    try { target.location.replace(exit.href); } catch (e) { window.location.replace(exit.href); }
  }
  if (exit) {
    exit.addEventListener("click", quickExit);
    var presses = 0, timer = null;
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" && event.key !== "Esc") { presses = 0; return; }
      presses += 1;
      clearTimeout(timer);
      if (presses >= 3) { presses = 0; quickExit(); return; }
      timer = setTimeout(function () { presses = 0; }, 5000);
    });
  }

  // a form error: move focus to the summary, whose link leads to the box (GOV.UK pattern)
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }

  var form = document.querySelector("form.js-search");
  if (!form) { return; }
  var tz = null;
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { tz = null; }
  if (tz && !form.elements.tz) {
    var hidden = document.createElement("input");
    hidden.type = "hidden"; hidden.name = "tz"; hidden.value = tz;
    form.appendChild(hidden);
  }
  form.addEventListener("submit", function () {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "checkbox") { return; }
      if (el.value === "" || (el.name === "format" && el.value === "any")) { el.disabled = true; }
    });
  });
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(form.elements, function (el) { el.disabled = false; });
  });

  var near = document.getElementById("near");
  if (near && navigator.geolocation) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary locate";
    button.textContent = form.getAttribute("data-locate-label") || "Use my location";
    var status = document.createElement("span");
    status.className = "hint"; status.setAttribute("role", "status");
    near.parentNode.appendChild(button);
    near.parentNode.appendChild(status);
    button.addEventListener("click", function () {
      status.textContent = form.getAttribute("data-locating-label") || "Finding your location…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        // about 100 m: enough to find groups nearby, not a street address
        near.value = pos.coords.latitude.toFixed(3) + "," + pos.coords.longitude.toFixed(3);
        status.textContent = "";
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }, function () {
        status.textContent = form.getAttribute("data-locate-failed") ||
          "We couldn't get your location. Type a postcode or town instead.";
      }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 600000 });
    });
  }
})();

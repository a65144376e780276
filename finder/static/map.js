// The optional map (only when the operator configures a tile server). Nothing loads until
// the visitor asks for the map: then Leaflet (served by this site) and the tiles.
(function () {
  "use strict";
  var data = document.getElementById("map-data");
  var button = document.querySelector(".js-show-map");
  var box = document.getElementById("map");
  if (!data || !button || !box) { return; }
  var config = JSON.parse(data.textContent);
  button.hidden = false;
  function load(tag, attrs, done) {
    var el = document.createElement(tag);
    Object.keys(attrs).forEach(function (k) { el[k] = attrs[k]; });
    el.onload = done;
    document.head.appendChild(el);
  }
  button.addEventListener("click", function () {
    button.hidden = true;
    box.hidden = false;
    var base = data.getAttribute("data-leaflet") || "/static/vendor/leaflet/";
    load("link", { rel: "stylesheet", href: base + "leaflet.css" }, function () {});
    load("script", { src: base + "leaflet.js" }, function () {
      var L = window.L;
      var map = L.map(box);
      L.tileLayer(config.tiles, { attribution: config.attribution, maxZoom: 18 }).addTo(map);
      var bounds = [];
      config.points.forEach(function (p) {
        var link = document.createElement("a");
        link.href = p.url; link.textContent = p.name;
        L.marker([p.lat, p.lng], { alt: p.name }).addTo(map).bindPopup(link);
        bounds.push([p.lat, p.lng]);
      });
      if (bounds.length) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 14 }); }
    });
  });
})();

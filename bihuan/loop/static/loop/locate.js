// "Use my location" on the report form (loop/_locate.html): the browser's geolocation fills the
// hidden lat/lon fields, shows the coordinates and asks the server for the nearest grid with a
// centre point among the places the user may report at; "Use this grid" selects it.
(function () {
  var box = document.querySelector("[data-testid=locate]");
  if (!box) { return; }
  var button = box.querySelector("[data-testid=use-location]");
  var status = box.querySelector("[data-testid=location-status]");
  var nearest = box.querySelector("[data-testid=nearest-grid]");
  var lat = document.getElementById("id_lat");
  var lon = document.getElementById("id_lon");
  var place = document.getElementById("id_location");
  var msg = function (k) { return box.getAttribute("data-msg-" + k) || ""; };
  if (!("geolocation" in navigator)) { status.textContent = msg("unsupported"); return; }
  button.hidden = false;

  function showNearest(data) {
    nearest.textContent = "";
    if (!data || !data.id) { nearest.textContent = msg("none"); return; }
    var text = document.createElement("span");
    text.textContent = msg("nearest") + " " + data.name + "（" + msg("metres").replace("{m}", data.distance_m) + "）";
    nearest.appendChild(text);
    var option = place && place.querySelector("option[value='" + data.id + "']");
    if (!option) { return; }
    var use = document.createElement("button");
    use.type = "button";
    use.className = "btn btn-sm btn-link";
    use.setAttribute("data-testid", "use-nearest-grid");
    use.textContent = msg("use");
    use.addEventListener("click", function () {
      place.value = String(data.id);
      place.dispatchEvent(new Event("change", { bubbles: true }));
      use.disabled = true;
      use.textContent = msg("used");
    });
    nearest.appendChild(use);
  }

  button.addEventListener("click", function () {
    status.textContent = msg("locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      var la = pos.coords.latitude.toFixed(6), lo = pos.coords.longitude.toFixed(6);
      lat.value = la;
      lon.value = lo;
      status.innerHTML = "";
      var c = document.createElement("span");
      c.className = "font-monospace";
      c.textContent = la + ", " + lo;
      status.appendChild(c);
      var url = box.getAttribute("data-nearest-url") + "?lat=" + encodeURIComponent(la) + "&lon=" + encodeURIComponent(lo);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(showNearest)
        .catch(function () { nearest.textContent = ""; });
    }, function () {
      status.textContent = msg("failed");
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
})();

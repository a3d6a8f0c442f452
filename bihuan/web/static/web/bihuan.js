// Bihuan front-end glue. No inline scripts anywhere (CSP forbids them).
document.addEventListener("htmx:configRequest", function (evt) {
  // CSRF for htmx requests, read from the cookie-less hidden input on the page.
  var el = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (el) { evt.detail.headers["X-CSRFToken"] = el.value; }
});

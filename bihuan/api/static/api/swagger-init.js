/* Starts the vendored Swagger UI on /api/v1/docs. A static file, not inline script: the CSP is
   script-src 'self'. Settings come from the page's JSON block (bihuan/api/docs.py). */
(function () {
  "use strict";
  var body = document.body.dataset;
  var config = JSON.parse(document.getElementById("swagger-settings").textContent);
  config.dom_id = "#swagger-ui";
  config.presets = [SwaggerUIBundle.presets.apis];
  if (body.apiCsrf && body.csrfToken) {
    // "Try it out" with the browser session: unsafe methods need Django's CSRF header.
    config.requestInterceptor = function (req) {
      req.headers["X-CSRFToken"] = body.csrfToken;
      return req;
    };
  }
  window.ui = SwaggerUIBundle(config);
})();

// "Copy link" buttons (loop/public/_share.html): copy the target field's value to the clipboard.
(function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) { return; }
    button.hidden = false;
    var label = button.textContent;
    function done() {
      button.textContent = button.getAttribute("data-copied") || label;
      setTimeout(function () { button.textContent = label; }, 2000);
    }
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { fallback(); });
      } else {
        fallback();
      }
      function fallback() {
        field.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* the field stays selected */ }
      }
    });
  });
})();

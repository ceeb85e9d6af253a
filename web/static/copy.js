// A button with data-copy="ID" copies the value of the field with that id (a new API token);
// data-copied is what the button reads afterwards. Kept out of the page for the CSP.
(function () {
  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    button.addEventListener('click', function () {
      var field = document.getElementById(button.dataset.copy);
      if (!field) { return; }
      field.select();
      var done = function () { button.textContent = button.dataset.copied; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          document.execCommand('copy'); done();
        });
      } else {
        document.execCommand('copy'); done();
      }
    });
  });
})();

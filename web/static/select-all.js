// A checkbox with data-select-all="NAME" ticks or clears every checkbox named NAME
// (the queue's "select all"; kept out of the page so the CSP can forbid inline script).
(function () {
  document.querySelectorAll('input[data-select-all]').forEach(function (box) {
    box.addEventListener('click', function () {
      var selector = 'input[name="' + box.dataset.selectAll + '"]';
      document.querySelectorAll(selector).forEach(function (c) { c.checked = box.checked; });
    });
  });
})();

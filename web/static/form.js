// Shows a form field only when another field has one of the listed answers (x-show-when).
// Without JavaScript every field stays visible and the server drops what does not apply.
(function () {
  var fields = document.querySelectorAll('[data-show-when]');
  if (!fields.length) { return; }
  function valueOf(name) {
    var checked = document.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : null;
  }
  function update() {
    fields.forEach(function (el) {
      var rule = JSON.parse(el.dataset.showWhen);
      var show = Object.keys(rule).every(function (name) { return rule[name].indexOf(valueOf(name)) >= 0; });
      el.hidden = !show;
    });
  }
  document.addEventListener('change', update);
  update();
})();

// Draws the request's process diagrams with the bpmn-js viewer (served by the app, no CDN)
// and marks completed, active and overdue elements.
(function () {
  var holder = document.getElementById('diagrams');
  if (!holder || !window.BpmnJS) { return; }
  fetch(holder.dataset.src, { credentials: 'same-origin' })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      data.diagrams.forEach(function (d) {
        var box = document.createElement('div');
        box.className = 'diagram';
        box.setAttribute('role', 'img');
        box.dataset.process = d.process;
        holder.appendChild(box);
        var viewer = new BpmnJS({ container: box });
        viewer.importXML(d.xml).then(function () {
          var canvas = viewer.get('canvas');
          var registry = viewer.get('elementRegistry');
          canvas.zoom('fit-viewport');
          function mark(ids, cls) { ids.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, cls); } }); }
          mark(d.completed, 'gs-completed');
          mark(d.active, 'gs-active');
          mark(d.overdue, 'gs-overdue');
          box.dataset.ready = 'true';
        }).catch(function () { box.textContent = holder.dataset.error; });
      });
    })
    .catch(function () { holder.textContent = holder.dataset.error; });
})();

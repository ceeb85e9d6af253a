// Draws the request's process diagrams with the bpmn-js navigated viewer (served by the app, no
// CDN): lanes carry the reader's labels (the lanes of processes/*.bpmn are role keys; the server
// sends the labels with the diagrams), the diagram fits the width of the page, and buttons zoom in,
// zoom out and fit again (the viewer also pans by dragging and zooms with Ctrl + wheel). Marks
// completed, active and overdue elements.
(function () {
  var holder = document.getElementById('diagrams');
  if (!holder || !window.BpmnJS) { return; }

  function relabel(xml, lanes) {
    var doc = new DOMParser().parseFromString(xml, 'application/xml');
    if (doc.getElementsByTagName('parsererror').length) { return xml; }
    var nodes = doc.getElementsByTagNameNS('http://www.omg.org/spec/BPMN/20100524/MODEL', 'lane');
    for (var i = 0; i < nodes.length; i++) {
      var key = nodes[i].getAttribute('name');
      if (key && lanes[key]) { nodes[i].setAttribute('name', lanes[key]); }
    }
    return new XMLSerializer().serializeToString(doc);
  }

  function fitWidth(canvas, box) {
    var inner = canvas.viewbox().inner;
    if (!inner.width) { return; }
    var width = box.clientWidth;
    var scale = Math.min(1.2, (width - 24) / inner.width);
    box.style.height = Math.max(160, Math.ceil(inner.height * scale + 24)) + 'px';
    canvas.resized();
    canvas.viewbox({
      x: inner.x - 12 / scale,
      y: inner.y - 12 / scale,
      width: width / scale,
      height: box.clientHeight / scale
    });
  }

  function button(bar, text, action) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'secondary small';
    b.textContent = text;
    b.addEventListener('click', action);
    bar.appendChild(b);
  }

  fetch(holder.dataset.src, { credentials: 'same-origin' })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var lanes = data.lanes || {};
      data.diagrams.forEach(function (d) {
        var bar = document.createElement('div');
        bar.className = 'diagram-tools no-print';
        var box = document.createElement('div');
        box.className = 'diagram';
        box.setAttribute('role', 'img');
        box.dataset.process = d.process;
        holder.appendChild(bar);
        holder.appendChild(box);
        var viewer = new BpmnJS({ container: box });
        viewer.importXML(relabel(d.xml, lanes)).then(function () {
          var canvas = viewer.get('canvas');
          var registry = viewer.get('elementRegistry');
          fitWidth(canvas, box);
          button(bar, holder.dataset.zoomIn, function () { canvas.zoom(canvas.zoom() * 1.25); });
          button(bar, holder.dataset.zoomOut, function () { canvas.zoom(canvas.zoom() / 1.25); });
          button(bar, holder.dataset.fit, function () { fitWidth(canvas, box); });
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

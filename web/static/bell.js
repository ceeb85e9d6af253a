// The bell in the header: refresh its unread count every minute without reloading the page
// (kept out of the page so that the CSP can forbid inline script). The count stays as the server
// rendered it if a refresh fails.
(function () {
  var bell = document.getElementById('bell');
  var count = document.getElementById('bell-count');
  if (!bell || !count || !window.fetch) { return; }
  function refresh() {
    fetch(bell.dataset.unreadUrl, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || typeof body.unread !== 'number') { return; }
        count.textContent = body.unread > 99 ? '99+' : String(body.unread);
        count.classList.toggle('late', body.unread > 0);
      })
      .catch(function () {});
  }
  setInterval(refresh, 60000);
})();

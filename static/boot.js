// If the app itself cannot start (a failed or corrupt download, no WebAssembly), say so instead
// of leaving a blank page. Once started, the app's own panic hook takes over (src/web/panic.rs).
// A file of its own, not an inline script: the lab's content-security policy allows no inline
// script but Trunk's hashed loader (scripts/csp.mjs).
(function () {
  var started = false;
  addEventListener('TrunkApplicationStarted', function () { started = true; });
  function fail(reason) {
    if (started || document.getElementById('fatal-error')) return;
    var panel = document.createElement('div');
    panel.id = 'fatal-error';
    panel.className = 'fatal-error';
    panel.setAttribute('role', 'alert');
    var title = document.createElement('h2');
    title.textContent = 'The lab could not start';
    var text = document.createElement('p');
    text.textContent = 'Its program did not load in this browser. Check the connection and ' +
      'reload; the lab needs a browser with WebAssembly.';
    var pre = document.createElement('pre');
    pre.textContent = String(reason && (reason.message || reason));
    var button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Reload';
    button.addEventListener('click', function () { location.reload(); });
    panel.append(title, text, pre, button);
    document.body.appendChild(panel);
  }
  addEventListener('error', function (e) { fail(e.error || e.message); });
  addEventListener('unhandledrejection', function (e) { fail(e.reason); });
})();

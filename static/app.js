// merchant-crm: small progressive enhancements (no inline scripts: the CSP forbids them).
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var msg = form.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    ev.preventDefault();
    return;
  }
  // A double click must not send a form twice.
  if (form.dataset.sent === "1") {
    ev.preventDefault();
    return;
  }
  form.dataset.sent = "1";
  var buttons = form.querySelectorAll("button[type=submit]");
  for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
}, true);

window.addEventListener("pageshow", function () {
  // Re-enable forms when the browser restores a page from its back/forward cache.
  var forms = document.querySelectorAll("form[data-sent]");
  for (var i = 0; i < forms.length; i++) {
    delete forms[i].dataset.sent;
    var b = forms[i].querySelectorAll("button[type=submit]");
    for (var j = 0; j < b.length; j++) b[j].disabled = false;
  }
});

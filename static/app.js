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

// Import progress: poll the task while it runs and move the bar.
(function () {
  var box = document.getElementById("task");
  if (!box) return;
  var url = box.getAttribute("data-progress-url");
  function set(id, text) { var el = document.getElementById(id); if (el) el.textContent = text; }
  var first = null;
  function tick() {
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) { return r.json(); }).then(function (p) {
      if (first === null) first = p.state;
      var bar = document.getElementById("task-progress");
      if (bar) bar.value = p.percent;
      set("task-percent", p.percent + "%");
      set("task-state", p.state);
      set("task-windows", p.windows_done + " of " + p.windows_total);
      set("task-imported", p.imported);
      set("task-skipped", p.skipped);
      set("task-errors", p.errors);
      var err = document.getElementById("task-error");
      if (err) { err.hidden = !p.last_error; err.textContent = p.last_error || ""; }
      var under_way = p.state === "queued" || p.state === "running";
      if (under_way) setTimeout(tick, 1000);
      // It ended while the page was open: load it again for the runs, outcome and buttons.
      else if (first === "queued" || first === "running") window.location.reload();
    }).catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 500);
})();

// Customer Service: fill in the totals of the current search once the list is shown.
(function () {
  var box = document.getElementById("totals");
  if (!box) return;
  var url = box.getAttribute("data-totals-url");
  fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
    if (!r.ok) throw new Error(r.status);
    return r.json();
  }).then(function (data) {
    var p = document.createElement("p");
    p.id = "totals-line";
    if (!data.totals.length) { p.textContent = "Totals: no order matches."; }
    else {
      p.textContent = "Totals: " + data.totals.map(function (t) {
        return t.orders + " orders · " + t.revenue + " " + t.currency + " revenue, " + t.refunded + " refunded";
      }).join("  |  ");
    }
    box.textContent = "";
    box.appendChild(p);
  }).catch(function () { /* the link stays */ });
})();

// Type-ahead over the start page's list of areas: every typed word must appear in the area's
// name or code. A file (not inline script) so the page's CSP can forbid inline script.
(function () {
  "use strict";
  var input = document.getElementById("area-search");
  var list = document.getElementById("area-results");
  var count = document.getElementById("area-count");
  var setChoice = document.getElementById("set-choice");
  if (setChoice) {
    setChoice.addEventListener("change", function () { setChoice.form.submit(); });
  }
  if (!input || !list) { return; }
  var items = Array.prototype.slice.call(list.querySelectorAll("li"));
  var total = count ? count.textContent : "";
  function filter() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (item) {
      var text = item.getAttribute("data-search");
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      item.hidden = !match;
      if (match) { shown += 1; }
    });
    if (count) {
      count.textContent = words.length ? shown + " matching " + (shown === 1 ? "area" : "areas")
        + (shown === 1 ? ": press Enter to open it." : ".") : total;
    }
    return shown;
  }
  input.addEventListener("input", filter);
  input.form.addEventListener("submit", function (event) {
    // Enter with exactly one match opens it, whatever part of its name was typed.
    var visible = items.filter(function (item) { return !item.hidden; });
    if (input.value && visible.length === 1) {
      event.preventDefault();
      window.location.href = visible[0].querySelector("a").getAttribute("href");
    }
  });
})();

// Paging and verdict filters for long reports. Without this script every card is still in
// the page, but only the first page's cards carry their pictures: the others keep them in
// data-src until their page is shown, so a report of thousands of queries opens quickly.
(function () {
  "use strict";
  var PAGE = parseInt(document.body.getAttribute("data-page-size"), 10) || 50;
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var navs = document.querySelectorAll("nav.pages");
  var filters = document.querySelectorAll("[data-filter]");
  var filter = null, page = 0;

  function shown() {
    return cards.filter(function (c) { return !filter || c.getAttribute("data-verdict") === filter; });
  }
  function render() {
    var list = shown(), pages = Math.max(1, Math.ceil(list.length / PAGE));
    if (page >= pages) { page = pages - 1; }
    cards.forEach(function (c) { c.hidden = true; });
    list.slice(page * PAGE, (page + 1) * PAGE).forEach(function (c) {
      c.hidden = false;
      c.querySelectorAll("[data-src]").forEach(function (picture) {
        picture.setAttribute(picture.tagName.toLowerCase() === "image" ? "href" : "src",
                             picture.getAttribute("data-src"));
        picture.removeAttribute("data-src");
      });
    });
    navs.forEach(function (nav) {
      while (nav.firstChild) { nav.removeChild(nav.firstChild); }
      if (pages < 2) { return; }
      for (var p = 0; p < pages; p++) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = String(p + 1);
        if (p === page) { b.setAttribute("aria-current", "page"); }
        b.addEventListener("click", (function (target) {
          return function () { page = target; render(); window.scrollTo(0, 0); };
        })(p));
        nav.appendChild(b);
      }
    });
    filters.forEach(function (f) {
      f.parentNode.classList.toggle("active", f.getAttribute("data-filter") === filter);
    });
  }
  filters.forEach(function (f) {
    f.addEventListener("click", function () {
      var value = f.getAttribute("data-filter");
      filter = filter === value ? null : value;
      page = 0;
      render();
    });
  });
  function showLinked() {  // a link to one card (#q12) opens the page it is on
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    var index = cards.indexOf(target);
    if (index < 0) { return false; }
    filter = null;
    page = Math.floor(index / PAGE);
    render();
    target.scrollIntoView();
    return true;
  }
  window.addEventListener("hashchange", showLinked);
  if (!showLinked()) { render(); }
  document.documentElement.setAttribute("data-paged", "yes");
})();

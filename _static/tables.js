// On a narrow screen (a phone) a table too wide for the column, even with its cells wrapped between words, is
// shown stacked: each row a block, each cell a line that starts with its column's heading. Words are never cut
// and nothing scrolls sideways (issue 33). Tables that fit are left as they are; a wider window unstacks them.
(function () {
  function fitTables() {
    document.querySelectorAll("main table").forEach(function (table) {
      const headings = Array.from(table.querySelectorAll("thead th")).map(function (th) { return th.textContent.trim(); });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.from(row.children).forEach(function (cell, i) {
          if (headings[i] && !cell.dataset.heading) cell.dataset.heading = headings[i];
        });
      });
      table.classList.remove("stacked");
      if (window.innerWidth < 600 && table.getBoundingClientRect().width > table.parentElement.clientWidth + 1)
        table.classList.add("stacked");
    });
  }
  window.addEventListener("load", fitTables);
  window.addEventListener("resize", fitTables);
})();

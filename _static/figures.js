// On a narrow screen (a phone) a wide figure, shrunk to the column, would shrink its text below reading
// size. Such a figure is shown instead at the smallest width where its smallest text (9 pt, drawn at
// 12 px when the figure has its natural size) is 8.5 px tall, and its output box pans sideways; the page
// itself keeps the window's width. Figures that fit are left as they are.
(function () {
  const SMALLEST_PT_PX = 12, READABLE_PX = 8.5;
  function fitFigures() {
    document.querySelectorAll(".cell_output img").forEach(function (img) {
      const natural = parseFloat(img.style.width) || img.naturalWidth / 2;  // myst-nb: retina, CSS px
      const readable = Math.ceil(natural * READABLE_PX / SMALLEST_PT_PX);
      const box = img.closest(".cell_output") || img.parentElement;
      img.style.removeProperty("min-width");
      if (natural && box.clientWidth < readable) {
        img.style.setProperty("min-width", readable + "px", "important");
        // the box keeps the column's width (min-width 0: a flex item would grow with the figure) and pans
        Object.assign(box.style, {overflowX: "auto", maxWidth: "100%", minWidth: "0"});
      }
    });
  }
  window.addEventListener("load", fitFigures);
  window.addEventListener("resize", fitFigures);
})();

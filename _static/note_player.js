// Loads the note player (_static/note_player/player.mjs) on pages that have one (chapters 5, 6, 6a), once a
// player comes within a screen or so of the window: its models and runtime (about 20 MB) are not fetched for a
// reader who never scrolls to it.
// A classic script, as Jupyter Book adds every .js file of _static to every page; the player's own modules
// end in .mjs so that they are loaded only here, and only where a page asks for them.
(function () {
  var here = document.currentScript && document.currentScript.src;
  function go() {
    var roots = document.querySelectorAll('[data-note-player]'), started = false, watch = null;
    if (!here || !roots.length) return;
    function begin() {
      if (started) return;
      started = true;
      if (watch) watch.disconnect();
      import(new URL('note_player/player.mjs', here).href).then(function (m) { return m.start(); });
    }
    if (!('IntersectionObserver' in window)) return begin();
    watch = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) begin();
    }, {rootMargin: '800px 0px'});
    roots.forEach(function (root) { watch.observe(root); });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go); else go();
})();

// Loads the note player (_static/note_player/player.mjs) on pages that have one (chapters 5, 6, 6a).
// A classic script, as Jupyter Book adds every .js file of _static to every page; the player's own modules
// end in .mjs so that they are loaded only here, and only where a page asks for them.
(function () {
  var here = document.currentScript && document.currentScript.src;
  function go() {
    if (!here || !document.querySelector('[data-note-player]')) return;
    import(new URL('note_player/player.mjs', here).href).then(function (m) { return m.start(); });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go); else go();
})();

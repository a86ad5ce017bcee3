"""tutorial_lib: the code behind the book "Latent diffusion for music audio".

The top level holds the method, one module per concept, in the order the data flows (the chapters' order):
``codec`` -> ``data`` -> ``conditioning`` + ``unet`` + ``flow`` (``toy_flow`` in two dimensions) -> ``training``
(``checkpoints``) -> ``sampling`` -> ``generation`` (a trained model with its codec) -> ``reflow`` (straighter
paths, fewer steps). ``profiles`` holds the sizes of each way of running; ``pipeline`` runs everything in one
call and ``__main__`` from the command line.

Three subpackages sit beside it:

* ``evaluation``: how generated notes are heard and scored (pitch, decay, a classifier's distance to the data);
* ``runtime``: devices, threads, several processes, progress bars, safe file writes, work counts, estimates;
* ``book``: what only the pages use (showing code, figures, players, exercises, the student edition). Only the command
  line's ``student-edition`` imports ``book``.
"""

__version__ = "0.1.0"

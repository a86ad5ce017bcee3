"""tutorial_lib: the code behind the book "Latent diffusion for music audio".

One module per concept, in the order the data flows (the chapters' order):
``codec`` -> ``data`` -> ``conditioning`` + ``unet`` + ``flow`` -> ``training`` (``checkpoints``) -> ``sampling``
-> ``generation`` (a trained model with its codec) -> ``evaluation`` (pitch, decay and a classifier's distance
to the data: ``note_measures``, ``eval_classifier``, ``metrics``).
``profiles`` holds the sizes of each way of running; ``pipeline`` runs everything in one call and
``__main__`` from the command line. The book's own helpers (``display``, ``plots``, ``diagrams``, ``widgets``,
``exercises``, ``student``) are leaves: the method never imports them. ``progress`` (progress bars), ``work``
(counts of the costly work) and ``estimates`` (expected times on a GPU) serve both.
"""

__version__ = "0.1.0"

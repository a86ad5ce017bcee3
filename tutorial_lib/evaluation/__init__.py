"""The evaluation: how the book hears generated notes (chapter 5, "Listening with numbers").

* :mod:`.report`: :func:`evaluate` scores generated latents against a :class:`Reference` of real notes, every
  figure beside the real notes' own (and the FD beside its floor);
* :mod:`.note_measures`: what the decoded audio sounds like (CREPE pitch, decay, onset, silence);
* :mod:`.classifier`: the GANSynth-style pitch and source classifier whose embedding the FD is read in;
* :mod:`.metrics`: distances between sets of latents (Frechet distance, nearest neighbours, copies).
"""

from .report import (FIGURES, EvalReport, Reference, build_reference, comparison_table, evaluate, evaluate_sets,
                     fd_floor, known_bad_latents, labels_to_ask, notes_with_labels, reference_figures,
                     reference_from_prepared, same_label_notes, subset_sizes)

__all__ = ["FIGURES", "EvalReport", "Reference", "build_reference", "comparison_table", "evaluate", "evaluate_sets",
           "fd_floor", "known_bad_latents", "labels_to_ask", "notes_with_labels", "reference_figures",
           "reference_from_prepared", "same_label_notes", "subset_sizes"]

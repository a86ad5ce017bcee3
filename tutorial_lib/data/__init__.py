"""Data: NSynth's layout, synthetic guitar notes, the download, and the latent cache (chapter 2)."""

from .download import download_nsynth_guitar
from .latents import EncodeReport, LatentData, LatentDataset, encode_note, encode_notes, prepare_latents
from .nsynth import AudioError, Note, NoteList, list_notes, load_note, parse_note_name, write_synthetic_nsynth
from .synth import GuitarModel, pluck, random_guitar

__all__ = [
    "AudioError", "EncodeReport", "GuitarModel", "LatentData", "LatentDataset", "Note", "NoteList",
    "download_nsynth_guitar", "encode_note", "encode_notes", "list_notes", "load_note", "parse_note_name", "pluck",
    "prepare_latents", "random_guitar", "write_synthetic_nsynth",
]

"""What each chapter's Colab cell does once this project is installed (the cell itself: scripts/set_repository.py).

In Google Colab the cell installs the project, sets ``PROFILE = "colab"`` (the real notes and Music2Latent, sized
for a free GPU) and calls :func:`start`; elsewhere it does nothing.
"""

from __future__ import annotations

import os

#: Where ``USE_DRIVE = True`` keeps the cache (latents, trained models) and where the notes are unpacked.
DRIVE, DRIVE_CACHE, LOCAL_DATA = "/content/drive", "/content/drive/MyDrive/tutorial_lib", "/content/data"


def start(chapter: str, profile: str = "colab", use_drive: bool = False) -> None:
    """Prepares a Colab session for ``chapter`` run with ``profile``, then prints its plan.

    ``use_drive``: mounts Google Drive (Colab asks for access) and keeps the cache there, so that later chapters
    reuse the latents and models (chapter 5 reloads the model chapter 4 trained); the 35,000 notes stay on this
    machine's disk, which unpacks them far faster. The plan (:func:`tutorial_lib.book.chapters.colab_plan`) says
    first if the runtime has no GPU, then the chapter's expected time, and the full scale's.
    """
    if use_drive:
        from google.colab import drive

        drive.mount(DRIVE)
        os.environ["TUTORIAL_LIB_CACHE"] = DRIVE_CACHE
        os.environ["TUTORIAL_LIB_DATA"] = LOCAL_DATA
    from ..profiles import get_profile
    from .chapters import colab_plan

    print(colab_plan(chapter, get_profile(profile), full_scale=get_profile("gpu")))

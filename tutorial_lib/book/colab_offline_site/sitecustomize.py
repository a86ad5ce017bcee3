"""Loaded by every Python started with this folder on PYTHONPATH (notebook kernels included) by
``python -m tutorial_lib.book.colab_offline``: makes the process look like Colab, offline and tiny."""

import os

if os.environ.get("TUTORIAL_LIB_COLAB_OFFLINE"):
    from tutorial_lib.book.colab_offline import install

    install()

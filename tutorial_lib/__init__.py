"""tutorial_lib: the code behind the book "Latent diffusion for music audio".

One module per concept, in the order the data flows:
``codec`` -> ``data`` -> ``unet`` + ``flow`` -> ``training`` -> ``sampling`` -> ``metrics``.
``profiles`` holds the sizes of each way of running; ``pipeline`` runs everything in one call.
"""

__version__ = "0.1.0"

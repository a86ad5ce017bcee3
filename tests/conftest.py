import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the network


@pytest.fixture(scope="session")
def tiny_nsynth(tmp_path_factory):
    """A small synthetic set in NSynth's layout: 3 train + 3 valid instruments, 5 pitches, 1 velocity."""
    from tutorial_lib.data import write_synthetic_nsynth

    root = tmp_path_factory.mktemp("tiny_nsynth")
    return write_synthetic_nsynth(root, {"train": 1, "valid": 1}, pitches=range(40, 89, 12), velocities=(75,),
                                  progress=False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def m2l_weights(tmp_path_factory):
    """A music2latent.pt holding the package's own network with random weights (the real file's layout; no
    download)."""
    import torch
    from music2latent.models import UNet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m2l") / "music2latent.pt"
    torch.save({"gen_state_dict": UNet().state_dict()}, path)
    return path

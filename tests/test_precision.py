import pytest
import torch

from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.profiles import get_profile
from tutorial_lib.training import TrainConfig, resolve_precision, train
from tutorial_lib.unet import UNet


def run(precision):
    g = torch.Generator().manual_seed(0)
    latents = torch.randn(16, 64, 16, generator=g)
    torch.manual_seed(0)
    config = TrainConfig(steps=3, batch_size=8, lr=1e-3, device="cpu", precision=precision)
    return train(UNet(channels=(16, 32)), RectifiedFlow(), latents, None, config, progress=False).history.train_loss


def test_bf16_autocast_runs_close_to_fp32_but_not_the_same():
    fp32, bf16 = run("fp32"), run("bf16")
    assert bf16 == pytest.approx(fp32, rel=1e-2)
    assert bf16 != fp32  # the forward pass really ran in bfloat16


def test_unknown_precision_is_refused_and_the_gpu_profile_uses_bf16():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        resolve_precision("fp16", torch.device("cpu"))
    assert get_profile("gpu").train.precision == "bf16" and get_profile("cpu").train.precision == "fp32"


def test_a_gpu_that_only_emulates_bf16_trains_in_fp32(monkeypatch, capsys):
    """torch.cuda.is_bf16_supported() says True on a T4 (emulation); training must not believe it."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
    assert resolve_precision("bf16", torch.device("cuda")) == "fp32"
    assert "Tesla T4" in capsys.readouterr().out
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # an A100, H100
    assert resolve_precision("bf16", torch.device("cuda")) == "bf16"

import pytest
import torch

from tutorial_lib.unet import SeedUNet, UNet, build_model, count_parameters


def test_seed_unet_has_the_seeds_size_and_shape():
    model = SeedUNet()
    assert 34e6 < count_parameters(model) < 36e6  # "about 35 M parameters"
    assert len(model.downs) == 5 and model.downs[-1].out_channels == 2048
    assert not any(isinstance(m, (torch.nn.GroupNorm, torch.nn.BatchNorm1d)) for m in model.modules())
    x = torch.randn(2, 64, 32)
    assert model(x, torch.rand(2)).shape == x.shape


def test_seed_unet_time_enters_only_at_the_bottleneck():
    torch.manual_seed(0)
    model = SeedUNet(channels=(16, 32, 32, 32, 32))
    x = torch.randn(1, 64, 32)
    captured = {}
    model.bottleneck.register_forward_hook(lambda m, i, o: captured.setdefault("bottleneck", []).append(o))
    model.downs[0].register_forward_hook(lambda m, i, o: captured.setdefault("first", []).append(o))
    out0, out1 = model(x, torch.tensor([0.1])), model(x, torch.tensor([0.9]))
    assert torch.equal(captured["first"][0], captured["first"][1])  # encoder ignores t
    assert torch.equal(captured["bottleneck"][0], captured["bottleneck"][1])
    assert not torch.allclose(out0, out1)  # ...and yet the output depends on t


def test_seed_unet_refuses_lengths_it_cannot_halve_five_times():
    with pytest.raises(ValueError, match="divisible by 32"):
        SeedUNet(channels=(8, 8, 8, 8, 8))(torch.randn(1, 64, 43), torch.rand(1))


@pytest.mark.parametrize("frames", [32, 43, 7, 1])
def test_our_unet_takes_any_length(frames):
    model = UNet(channels=(16, 32, 32))
    x = torch.randn(3, 64, frames)
    assert model(x, torch.rand(3)).shape == x.shape


def test_our_unet_uses_time_at_every_level_and_classes_through_the_hook():
    torch.manual_seed(0)
    model = UNet(channels=(16, 32, 32), num_classes=3)
    assert all(hasattr(block, "emb") for block in model.down_blocks)
    x = torch.randn(2, 64, 16)
    t = torch.tensor([0.3, 0.3])
    assert not torch.allclose(model(x, t), model(x, torch.tensor([0.7, 0.7])))
    assert not torch.allclose(model(x, t, torch.tensor([0, 0])), model(x, t, torch.tensor([2, 2])))
    with pytest.raises(ValueError, match="without num_classes"):
        UNet(channels=(16, 16))(x, t, torch.tensor([0, 1]))


def test_build_model_by_name():
    assert isinstance(build_model("unet", channels=(16, 16)), UNet)
    with pytest.raises(ValueError, match="choose one of seed, unet"):
        build_model("transformer")

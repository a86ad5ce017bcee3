import pytest
import torch

from tutorial_lib.unet import PlainUNet, UNet, build_model, count_parameters

# The reference notebook's DiffusionUnet(64, 64, num_layers=5), written out layer by layer:
# (name, type, in, out, kernel, stride, padding) for convolutions, (name, type, in, out) for linear layers.
REFERENCE_PLAIN_UNET = [
    *[(f"downs.{i}", "Conv1d", a, b, 4, 2, 1)
      for i, (a, b) in enumerate([(64, 128), (128, 256), (256, 512), (512, 1024), (1024, 2048)])],
    ("bottleneck", "Conv1d", 2048, 2048, 3, 1, 1),
    ("time_mlp.0", "Linear", 1, 128), ("time_mlp.1", "ReLU"),
    ("time_mlp.2", "Linear", 128, 2048), ("time_mlp.3", "ReLU"),
    *[(f"ups.{i}", "ConvTranspose1d", a, b, 4, 2, 1)
      for i, (a, b) in enumerate([(2048, 1024), (1024, 512), (512, 256), (256, 128), (128, 64)])],
    ("final_layer", "Conv1d", 64, 64, 1, 1, 0),
]


def describe(name, module):
    kind = type(module).__name__
    if isinstance(module, torch.nn.modules.conv._ConvNd):
        return (name, kind, module.in_channels, module.out_channels, *module.kernel_size, *module.stride,
                *module.padding)
    if isinstance(module, torch.nn.Linear):
        return (name, kind, module.in_features, module.out_features)
    return (name, kind)


def reference_forward(model, x, t):
    """The reference's forward, spelled out: ReLU after each down level, no ReLU after the bottleneck,
    the time embedding added there, ReLU after every up level (the last included), then final_layer."""
    skips, h = [], x
    for down in model.downs:
        h = torch.relu(down(h))
        skips.append(h)
    h = model.bottleneck(h) + model.time_mlp(t.unsqueeze(-1)).unsqueeze(-1)
    for up in model.ups:
        h = torch.relu(up(h + skips.pop()))
    return model.final_layer(h)


def test_plain_unet_matches_the_reference_layer_by_layer():
    model = PlainUNet()
    layers = [describe(name, m) for name, m in model.named_modules()
              if name and not isinstance(m, (torch.nn.ModuleList, torch.nn.Sequential))]
    assert layers == REFERENCE_PLAIN_UNET
    assert count_parameters(model) == 35_207_296
    assert not any(isinstance(m, (torch.nn.GroupNorm, torch.nn.BatchNorm1d)) for m in model.modules())


def test_plain_unet_computes_what_the_reference_computes():
    torch.manual_seed(0)
    model = PlainUNet(channels=(16, 32, 32, 32, 32))  # the same design at a reduced size (profiles' plain_model_kwargs)
    x, t = torch.randn(3, 64, 64), torch.rand(3)
    out = model(x, t)
    assert out.shape == x.shape
    torch.testing.assert_close(out, reference_forward(model, x, t), rtol=0, atol=0)
    seen = {}
    model.ups[0].register_forward_pre_hook(lambda m, args: seen.setdefault("decoder_input", args[0]))
    model(x, t)
    assert (seen["decoder_input"] < 0).any()  # no ReLU after the bottleneck: the decoder sees negative values


def test_plain_unet_time_enters_only_at_the_bottleneck():
    torch.manual_seed(0)
    model = PlainUNet(channels=(16, 32, 32, 32, 32))
    x = torch.randn(1, 64, 32)
    captured = {}
    model.bottleneck.register_forward_hook(lambda m, i, o: captured.setdefault("bottleneck", []).append(o))
    model.downs[0].register_forward_hook(lambda m, i, o: captured.setdefault("first", []).append(o))
    out0, out1 = model(x, torch.tensor([0.1])), model(x, torch.tensor([0.9]))
    assert torch.equal(captured["first"][0], captured["first"][1])  # encoder ignores t
    assert torch.equal(captured["bottleneck"][0], captured["bottleneck"][1])
    assert not torch.allclose(out0, out1)  # ...and yet the output depends on t


def test_plain_unet_refuses_lengths_it_cannot_halve_five_times():
    with pytest.raises(ValueError, match="divisible by 32"):
        PlainUNet(channels=(8, 8, 8, 8, 8))(torch.randn(1, 64, 43), torch.rand(1))


@pytest.mark.parametrize("frames", [32, 43, 7, 1])
def test_our_unet_takes_any_length(frames):
    model = UNet(channels=(16, 32, 32))
    x = torch.randn(3, 64, frames)
    assert model(x, torch.rand(3)).shape == x.shape


def test_our_unet_uses_time_at_every_level_and_conditions_when_built_for_them():
    from tutorial_lib.conditioning import Conditions

    torch.manual_seed(0)
    model = UNet(channels=(16, 32, 32), conditioned=True)
    assert all(hasattr(block, "emb") for block in model.down_blocks)
    x = torch.randn(2, 64, 16)
    t = torch.tensor([0.3, 0.3])
    assert not torch.allclose(model(x, t), model(x, torch.tensor([0.7, 0.7])))
    with torch.no_grad():  # the "unknown" vectors start at zero; make them differ from a real label
        model.condition_emb.unknown.normal_()
    low, high = Conditions.make(2, pitch=40), Conditions.make(2, pitch=80)
    assert not torch.allclose(model(x, t, low), model(x, t, high))
    assert torch.allclose(model(x, t), model(x, t, Conditions.make(2)))  # None = no label given
    with pytest.raises(ValueError, match="without conditioned=True"):
        UNet(channels=(16, 16))(x, t, low)


def test_build_model_by_name():
    assert isinstance(build_model("unet", channels=(16, 16)), UNet)
    with pytest.raises(ValueError, match="choose one of plain, unet"):
        build_model("transformer")

"""1-D U-Nets that predict the rectified-flow velocity (chapter 3, "The U-Net").

Both map ``x [batch, 64, frames]`` and ``t [batch]`` to a tensor of the shape of ``x``.

* :class:`PlainUNet`: the original tutorial's plain convolutional U-Net, at its sizes: five stride-2 ``Conv1d`` levels
  (kernel 4, channels 128 -> 2048), additive skips, no normalisation, and a time MLP
  (``Linear(1, 128) - ReLU - Linear - ReLU``) added only at the bottleneck, then a ReLU and a 1x1
  ``final_layer``: the reference ``DiffusionUnet(64, 64, num_layers=5)``, 35,207,296 parameters.
  ``frames`` must be a multiple of 32.
* :class:`UNet`: ours: a sinusoidal time embedding added in every residual block, GroupNorm,
  concatenated skips, any ``frames`` (padded inside, cropped back), and optional conditioning on pitch,
  source and velocity (chapter 6, "Control").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .conditioning import ConditionEmbedding, Conditions
from .runtime.devices import model_device, move_inputs_to_weights


class PlainUNet(nn.Module):
    """The original tutorial's U-Net, layer for layer: strided convolutions down, transposed convolutions up,
    additive skips and the time MLP at the bottleneck. ``channels`` are the five levels' widths."""

    registry_key = "plain"

    def __init__(self, in_channels: int = 64, channels: tuple[int, ...] = (128, 256, 512, 1024, 2048)):
        super().__init__()
        self.config = {"in_channels": in_channels, "channels": tuple(channels)}
        widths = [in_channels, *channels]
        self.downs = nn.ModuleList(nn.Conv1d(a, b, 4, stride=2, padding=1) for a, b in zip(widths[:-1], widths[1:]))
        self.bottleneck = nn.Conv1d(channels[-1], channels[-1], 3, padding=1)
        self.time_mlp = nn.Sequential(nn.Linear(1, 128), nn.ReLU(), nn.Linear(128, channels[-1]), nn.ReLU())
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(b, a, 4, stride=2, padding=1) for a, b in reversed(list(zip(widths[:-1], widths[1:])))
        )
        self.final_layer = nn.Conv1d(in_channels, in_channels, 1)
        self.factor = 2 ** len(channels)
        self.register_forward_pre_hook(move_inputs_to_weights, with_kwargs=True)  # CPU noise, GPU weights

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Velocity for ``x [B, in_channels, frames]`` (``frames`` a multiple of 32) at times ``t [B]``.

        Returns ``[B, in_channels, frames]`` (a pre-hook has moved ``x`` and ``t`` to the model's device).
        """
        if x.shape[-1] % self.factor:
            raise ValueError(f"PlainUNet needs a number of frames divisible by {self.factor}, got {x.shape[-1]}; "
                             "cut the latents (num_frames=32) or use UNet, which takes any length.")
        skips = []
        h = x
        for down in self.downs:
            h = F.relu(down(h))
            skips.append(h)
        h = self.bottleneck(h)  # no ReLU here, as in the reference
        h = h + self.time_mlp(t.reshape(-1, 1).to(h.dtype))[..., None]  # [B, C] -> [B, C, 1], broadcast over frames
        for up, skip in zip(self.ups, reversed(skips)):
            h = F.relu(up(h + skip))
        return self.final_layer(h)


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """``t [B]`` in [0, 1] -> ``[B, dim]`` sines and cosines of ``1000 t`` at geometric frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ResBlock(nn.Module):
    """GroupNorm - SiLU - Conv, plus the time embedding, twice, with a residual connection."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv1d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[..., None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """Our U-Net: time enters every block; any number of frames.

    Args:
        in_channels: latent channels (64).
        channels: width of each level; each level after the first halves the frames.
        emb_dim: size of the time (and condition) embedding.
        conditioned: if true, ``forward(x, t, conditions)`` adds an embedding of the notes' pitch, source
            and velocity (:class:`~tutorial_lib.conditioning.Conditions`) to the time embedding.
    """

    def __init__(self, in_channels: int = 64, channels: tuple[int, ...] = (128, 256, 256), emb_dim: int = 256,
                 conditioned: bool = False, groups: int = 8):
        super().__init__()
        self.config = {"in_channels": in_channels, "channels": tuple(channels), "emb_dim": emb_dim,
                       "conditioned": conditioned, "groups": groups}
        self.emb_dim = emb_dim
        self.time_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.condition_emb = ConditionEmbedding(emb_dim) if conditioned else None
        self.conv_in = nn.Conv1d(in_channels, channels[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        c_prev = channels[0]
        for i, c in enumerate(channels):
            self.down_blocks.append(ResBlock(c_prev, c, emb_dim, groups))
            last = i == len(channels) - 1
            self.downsamples.append(nn.Identity() if last else nn.Conv1d(c, c, 4, stride=2, padding=1))
            c_prev = c
        self.mid = ResBlock(c_prev, c_prev, emb_dim, groups)
        self.up_blocks = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for i, c in reversed(list(enumerate(channels))):
            self.up_blocks.append(ResBlock(c_prev + c, c, emb_dim, groups))
            self.upsamples.append(nn.Identity() if i == 0 else nn.ConvTranspose1d(c, channels[i - 1], 4, stride=2, padding=1))
            c_prev = channels[i - 1] if i > 0 else c
        self.norm_out = nn.GroupNorm(groups, channels[0])
        self.conv_out = nn.Conv1d(channels[0], in_channels, 3, padding=1)
        self.factor = 2 ** (len(channels) - 1)
        self.register_forward_pre_hook(move_inputs_to_weights, with_kwargs=True)  # CPU noise, GPU weights

    def forward(self, x: torch.Tensor, t: torch.Tensor, conditions: Conditions | None = None) -> torch.Tensor:
        """The velocity at ``x``.

        Args:
            x: ``[B, 64, frames]`` noisy latents ``x_t``.
            t: ``[B]`` times in [0, 1] (or one time for all).
            conditions: labels ``[B]`` each (a conditioned model only); ``None`` = no label given.

        Returns:
            ``[B, 64, frames]``, the predicted ``x_0 - z``. A pre-hook has moved the inputs to the model's device
            (noise drawn on the CPU works with a model on the GPU).
        """
        frames = x.shape[-1]
        pad = (-frames) % self.factor
        h = F.pad(x, (0, pad)) if pad else x
        emb = self.time_mlp(sinusoidal_embedding(t.reshape(-1).expand(x.shape[0]), self.emb_dim).to(x.dtype))
        if self.condition_emb is not None:
            conditions = conditions if conditions is not None else Conditions.make(x.shape[0], device=x.device)
            emb = emb + self.condition_emb(conditions)
        elif conditions is not None:
            raise ValueError("This UNet was built without conditioned=True; it cannot take conditions. "
                             "Train a conditioned model (e.g. model_kwargs={'conditioned': True}).")
        h = self.conv_in(h)
        skips = []
        for block, down in zip(self.down_blocks, self.downsamples):
            h = block(h, emb)
            skips.append(h)
            h = down(h)
        h = self.mid(h, emb)
        for block, up in zip(self.up_blocks, self.upsamples):
            h = up(block(torch.cat([h, skips.pop()], dim=1), emb))
        return self.conv_out(F.silu(self.norm_out(h)))[..., :frames]


UNet.registry_key = "unet"  # the name checkpoints store (PlainUNet's is "plain")
MODELS = {cls.registry_key: cls for cls in (PlainUNet, UNet)}


def build_model(name: str, **kwargs) -> nn.Module:
    """``"plain"`` -> :class:`PlainUNet`, ``"unet"`` -> :class:`UNet`, with the given sizes."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}: choose one of {', '.join(MODELS)}.")
    return MODELS[name](**kwargs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def shape_table(model: nn.Module, x: torch.Tensor, t: torch.Tensor) -> list[tuple[str, tuple, int]]:
    """``(layer, output shape, parameters)`` for each direct child layer, in the order they run
    (``x [B, 64, frames]`` and ``t [B]`` are moved to the model's device)."""
    device = model_device(model, x.device)
    x, t = x.to(device), t.to(device)
    rows = []
    hooks = []
    for name, module in model.named_modules():
        is_leaf_block = name and (not list(module.children()) or isinstance(module, (ResBlock, nn.Sequential)))
        inside_block = any(name.startswith(other + ".") for other, m in model.named_modules()
                           if other and isinstance(m, (ResBlock, nn.Sequential)))
        if is_leaf_block and not inside_block:
            hooks.append(module.register_forward_hook(
                lambda m, i, o, name=name: rows.append((name, tuple(o.shape), count_parameters(m)))))
    try:
        model(x, t)
    finally:
        for hook in hooks:
            hook.remove()
    return rows

"""Pictures of the ideas, drawn from the code they picture (intro, chapter 1 and chapter 3).

* :func:`pipeline`: audio -> codec encoder -> latents -> rectified flow + U-Net -> ODE sampler ->
  codec decoder -> audio, with the sizes read from the codec in use.
* :func:`unet_layout` measures a U-Net (``PlainUNet`` or ``UNet``) with one forward pass: every block's
  output channels and frames, which blocks feed which skips (added or concatenated) and where the time
  enters. :func:`draw_unet` draws that layout, so the drawing cannot drift from the model.

A leaf module: nothing else in tutorial_lib imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..unet import ResBlock, PlainUNet, UNet

BOX = {"codec": "#cfe3f5", "latent": "#fbe3b8", "model": "#d7eccf", "sampler": "#ead6f0", "audio": "#eeeeee"}


def _box(ax, x, y, text, color, w=1.5, h=0.8, fontsize=9):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03,rounding_size=0.08",
                                facecolor=color, edgecolor="0.3", linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, text=None, color="0.25", style="-|>", dashed=False, text_offset=(0.0, 0.12), **kw):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle=style, color=color, lw=1.2,
                                                          linestyle="--" if dashed else "-", **kw))
    if text:
        ax.text((start[0] + end[0]) / 2 + text_offset[0], (start[1] + end[1]) / 2 + text_offset[1], text,
                ha="center", va="bottom", fontsize=9, color=color)


def pipeline(*, codec, frames: int, ax=None):
    """The book's pipeline as a diagram: top row training, bottom row generation.

    Args:
        codec: the codec in use (``codec.name``, ``sample_rate``, ``frame_rate``, ``channels`` are shown).
        frames: latent frames per note (the profile's ``num_frames``).
    Returns the axes; its texts name each stage and the chapter that explains it.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 3.3), layout="constrained")
        fig.phone_layout = lambda width: _pipeline_vertical(codec=codec, frames=frames, width=width).figure
    shape = f"[{codec.channels} × {frames}]"
    seconds = frames / codec.frame_rate
    name = codec.name.split(" (")[0]
    top, bottom, w = 1.6, 0.0, 1.75
    xs = [0, 2.2, 4.4, 6.6, 8.8]
    _box(ax, xs[0], top, f"audio note\n{codec.sample_rate:,} Hz", BOX["audio"], w)
    _box(ax, xs[1], top, f"codec encoder\n({name})", BOX["codec"], w)
    _box(ax, xs[2], top, f"latents {shape}\n{codec.frame_rate:.2f} frames/s\nstandardised", BOX["latent"], w, 0.95)
    _box(ax, xs[3], top, "rectified flow\n$x_t = (1-t)\\,x_0 + t\\,z$\ntrain U-Net $f(x_t, t)$",
         BOX["model"], w + 0.2, 0.95)
    _box(ax, xs[4], top, "target\n$v = x_0 - z$\nloss MSE$(v, f)$", BOX["model"], w - 0.2, 0.95)
    _box(ax, xs[4], bottom, f"noise $z$ {shape}\n$\\sim \\mathcal{{N}}(0, I)$, $t = 1$", BOX["latent"], w)
    _box(ax, xs[3], bottom, "ODE sampler\n$x \\leftarrow x + h\\,f(x, t)$\n$t$: 1 → 0", BOX["sampler"], w + 0.2, 0.95)
    _box(ax, xs[2], bottom, f"new latents {shape}\n$t = 0$", BOX["latent"], w)
    _box(ax, xs[1], bottom, f"codec decoder\n({name})", BOX["codec"], w)
    _box(ax, xs[0], bottom, f"new audio\n{seconds:.1f} s", BOX["audio"], w)
    for a, b, text in ((0, 1, None), (1, 2, None), (2, 3, "$x_0$"), (3, 4, None)):
        _arrow(ax, (xs[a] + w / 2, top), (xs[b] - w / 2 - (0.1 if b == 3 else 0), top), text)
    for a, b, text in ((4, 3, None), (3, 2, "$x_0$"), (2, 1, None), (1, 0, None)):
        _arrow(ax, (xs[a] - w / 2 - (0.1 if a == 3 else 0), bottom), (xs[b] + w / 2, bottom), text)
    _arrow(ax, (xs[3], top - 0.5), (xs[3], bottom + 0.5), "trained $f$", color="tab:green",
           text_offset=(0.45, -0.12))
    for x, label in zip(xs, ("", "chapter 1", "chapter 2", "chapters 3-4", "")):
        ax.text(x, top + 0.62, label, ha="center", fontsize=9, color="0.4")
    ax.text(xs[3], bottom - 0.68, "chapter 5", ha="center", fontsize=9, color="0.4")
    ax.text(-1.05, top, "training", rotation=90, ha="center", va="center", fontsize=9, weight="bold")
    ax.text(-1.05, bottom, "generation", rotation=90, ha="center", va="center", fontsize=9, weight="bold")
    ax.set(xlim=(-1.3, 9.9), ylim=(-0.85, 2.3), aspect="equal")
    ax.set_axis_off()
    ax.set_title(f"Latent diffusion for music: {codec.describe() if hasattr(codec, 'describe') else name}",
                 fontsize=10)
    return ax


def _pipeline_vertical(*, codec, frames: int, width: float):
    """:func:`pipeline` for a phone (plots.phone_layout): training runs down the left column, generation up
    the right one; the same boxes and texts, ``width`` inches wide."""
    import matplotlib.pyplot as plt

    shape = f"[{codec.channels} × {frames}]"
    name = codec.name.split(" (")[0]
    w, step, left, right = 1.75, 1.25, 0.0, 2.3
    ys = [-step * i for i in range(5)]
    _, ax = plt.subplots(figsize=(width, width * 7.9 / 5.3), layout="constrained")
    train = [(f"audio note\n{codec.sample_rate:,} Hz", "audio", 0.8), (f"codec encoder\n({name})", "codec", 0.8),
             (f"latents {shape}\n{codec.frame_rate:.2f} frames/s\nstandardised", "latent", 0.95),
             ("rectified flow\n$x_t = (1-t)\\,x_0 + t\\,z$\ntrain U-Net $f(x_t, t)$", "model", 0.95),
             ("target\n$v = x_0 - z$\nloss MSE$(v, f)$", "model", 0.95)]
    generate = [(f"new audio\n{frames / codec.frame_rate:.1f} s", "audio", 0.8), (f"codec decoder\n({name})", "codec", 0.8),
                (f"new latents {shape}\n$t = 0$", "latent", 0.8),
                ("ODE sampler\n$x \\leftarrow x + h\\,f(x, t)$\n$t$: 1 → 0", "sampler", 0.95),
                (f"noise $z$ {shape}\n$\\sim \\mathcal{{N}}(0, I)$, $t = 1$", "latent", 0.8)]
    for x, boxes in ((left, train), (right, generate)):
        for y, (text, kind, h) in zip(ys, boxes):
            _box(ax, x, y, text, BOX[kind], w, h)
    for a in range(4):  # training runs down, generation up; x_0 labels the latents' arrows
        label = "$x_0$" if a == 2 else None
        _arrow(ax, (left, ys[a] - train[a][2] / 2), (left, ys[a + 1] + train[a + 1][2] / 2), label,
               text_offset=(0.2, -0.1))
        _arrow(ax, (right, ys[a + 1] + generate[a + 1][2] / 2), (right, ys[a] - generate[a][2] / 2),
               "$x_0$" if a == 1 else None, text_offset=(0.2, -0.1))
    _arrow(ax, (left + w / 2, ys[3]), (right - w / 2, ys[3]), color="tab:green")
    ax.text((left + right) / 2, ys[3] + 0.52, "trained $f$", ha="center", va="bottom", fontsize=9, color="tab:green")
    for y, label in zip(ys[1:4], ("chapter 1", "chapter 2", "chapters 3-4")):
        ax.text(left - w / 2 - 0.08, y, label, ha="right", va="center", fontsize=9, color="0.4", rotation=90)
    ax.text(right + w / 2 + 0.08, ys[3], "chapter 5", ha="left", va="center", fontsize=9, color="0.4", rotation=90)
    for x, label in ((left, "training"), (right, "generation")):
        ax.text(x, ys[0] + 0.62, label, ha="center", fontsize=9, weight="bold")
    ax.set(xlim=(left - w / 2 - 0.35, right + w / 2 + 0.35), ylim=(ys[-1] - 0.6, 1.0), aspect="equal")
    ax.set_axis_off()
    ax.set_title(f"Latent diffusion for music: {codec.describe() if hasattr(codec, 'describe') else name}",
                 fontsize=10, wrap=True)
    return ax


# The U-Net ------------------------------------------------------------------------------------------


@dataclass
class Block:
    """One box of the drawing: a module of the model, measured in a forward pass."""

    name: str  # the module's name in the model, e.g. "downs.0"
    op: str  # what it is, read from the module: "Conv1d k4 s2", "ResBlock", ...
    in_channels: int
    channels: int  # output channels (measured)
    frames: int  # output frames (measured)
    level: int  # 0 = full resolution; each level halves the frames
    time: bool  # the time embedding is added here


@dataclass
class Skip:
    source: str  # block whose output is kept
    target: str  # block that receives it
    mode: str  # "add" or "concat", read from the target's input channels


@dataclass
class UNetLayout:
    """What :func:`draw_unet` draws. Blocks are in the order they run."""

    title: str
    in_channels: int
    frames: int
    blocks: list[Block]
    skips: list[Skip] = field(default_factory=list)
    time_mlp: str = ""  # e.g. "t -> Linear 1→128 -> Linear 128→2048"
    parameters: int = 0

    def block(self, name: str) -> Block:
        return next(b for b in self.blocks if b.name == name)


def _op(module: nn.Module) -> str:
    if isinstance(module, nn.ConvTranspose1d):
        return f"ConvT k{module.kernel_size[0]} s{module.stride[0]}"
    if isinstance(module, nn.Conv1d):
        return f"Conv1d k{module.kernel_size[0]}" + (f" s{module.stride[0]}" if module.stride[0] > 1 else "")
    return type(module).__name__


def _in_channels(module: nn.Module) -> int:
    return module.conv1.in_channels if isinstance(module, ResBlock) else module.in_channels


@torch.no_grad()
def unet_layout(model: nn.Module, *, frames: int = 32) -> UNetLayout:
    """Measures ``model`` (a :class:`PlainUNet` or :class:`UNet`) on one input ``[1, in_channels, frames]``."""
    if isinstance(model, PlainUNet):
        sources, targets = "downs", "ups"
        timed = {"bottleneck"}  # the original tutorial adds the time MLP's output right after its bottleneck
    elif isinstance(model, UNet):
        sources, targets = "down_blocks", "up_blocks"
        timed = {n for n, m in model.named_modules() if isinstance(m, ResBlock)}
    else:
        raise TypeError(f"unet_layout draws PlainUNet or UNet from tutorial_lib.unet, got {type(model).__name__}")
    in_channels = model.config["in_channels"]
    order, shapes, hooks = [], {}, []
    for name, module in model.named_children():
        parts = list(module.named_children()) if isinstance(module, nn.ModuleList) else [(None, module)]
        for sub, m in parts:
            if name in ("time_mlp", "condition_emb") or isinstance(m, nn.Identity) or \
                    isinstance(m, (nn.GroupNorm, nn.Sequential)):
                continue
            full = name if sub is None else f"{name}.{sub}"
            order.append((full, m))
            hooks.append(m.register_forward_hook(lambda mod, i, o, full=full: shapes.__setitem__(full, o.shape)))
    try:
        model(torch.zeros(1, in_channels, frames), torch.full((1,), 0.5))
    finally:
        for hook in hooks:
            hook.remove()
    order.sort(key=lambda item: list(shapes).index(item[0]))  # the order they ran
    blocks = [Block(name=n, op=_op(m), in_channels=_in_channels(m), channels=shapes[n][1], frames=shapes[n][2],
                    level=round(math.log2(frames / shapes[n][2])), time=n in timed) for n, m in order]
    src = [b for b in blocks if b.name.startswith(sources + ".")]
    dst = [b for b in blocks if b.name.startswith(targets + ".")]
    skips = []
    for s, d in zip(reversed(src), dst):  # the decoder takes the encoder's outputs last-in, first-out
        previous = blocks[blocks.index(d) - 1].channels
        mode = "concat" if d.in_channels == previous + s.channels else "add" if d.in_channels == s.channels else "?"
        skips.append(Skip(source=s.name, target=d.name, mode=mode))
    where = [b.name for b in blocks if b.time]
    at = f" ({where[0]})" if len(where) == 1 else ""
    modes = " and ".join({"add": "added", "concat": "concatenated"}.get(m, m) for m in sorted({s.mode for s in skips}))
    what = "time and labels enter" if getattr(model, "condition_emb", None) is not None else "time enters"
    title = f"{type(model).__name__}: {what} {len(where)} of {len(blocks)} blocks{at}; skips {modes}"
    linears = [m for m in model.time_mlp if isinstance(m, nn.Linear)]
    embed = "t → sin/cos" if isinstance(model, UNet) else "t"
    time_mlp = f"{embed} → " + " → ".join(f"Linear {m.in_features}→{m.out_features}" for m in linears)
    n_params = sum(p.numel() for p in model.parameters())
    return UNetLayout(title=title, in_channels=in_channels, frames=frames, blocks=blocks, skips=skips,
                      time_mlp=time_mlp, parameters=n_params)


def draw_unet(layout: UNetLayout, *, ax=None):
    """Draws a :class:`UNetLayout`: blocks left to right in the order they run, one row per level (a block on
    another row than the one before it moves right by less than a box, so that the U stays narrow enough for
    its 9 pt text to read on a page).

    Box heights grow with the log of the channels; each box says its operation and ``channels × frames``.
    Grey brackets are skips ("+" added, "cat" concatenated); orange arrows show where the time enters
    (those blocks are purple).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    entries = [Block("input", "input", layout.in_channels, layout.in_channels, layout.frames, 0, False)]
    entries += layout.blocks
    depth = max(b.level for b in entries)
    row = 1.0
    xs = [0.0]
    for before, b in zip(entries, entries[1:]):
        xs.append(xs[-1] + (0.85 if b.level == before.level else 0.5))
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 0.85 * (xs[-1] + 2.2)), 0.85 * depth + 3.0), layout="constrained")
        fig.phone_layout = lambda width: _draw_unet_vertical(layout, width=width).figure
    smallest = min(b.channels for b in entries)
    position = {}
    for i, b in enumerate(entries):
        x, y = xs[i], -row * b.level
        h = 0.55 + 0.05 * math.log2(b.channels / smallest)
        position[b.name] = (x, y, h)
        color = BOX["latent"] if b.name == "input" else BOX["sampler"] if b.time else BOX["model"]
        ax.add_patch(FancyBboxPatch((x - 0.35, y - h / 2), 0.7, h, boxstyle="round,pad=0.02,rounding_size=0.05",
                                    facecolor=color, edgecolor="0.3", linewidth=1, zorder=2))
        op = "$x_t$" if b.name == "input" else b.op.replace(" ", "\n", 1)  # "Conv1d\nk4 s2"
        ax.text(x, y, f"{op}\n{b.channels} × {b.frames}", ha="center", va="center", fontsize=9, zorder=3)
        if i:  # from the block before: beside it on the same row, else from its bottom (down) or top (up)
            px, py, ph = position[entries[i - 1].name]
            start, end = ((px + 0.37, py), (x - 0.37, y)) if py == y else \
                ((px, py - ph / 2), (x, y + h / 2)) if y < py else ((px, py + ph / 2), (x, y - h / 2))
            ax.annotate("", xy=end, xytext=start, zorder=1,
                        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1, shrinkA=0, shrinkB=0))
    names = [b.name for b in entries]
    for s in layout.skips:
        (x0, y0, h0), (x1, y1, h1) = position[s.source], position[s.target]
        top, end = y0 + 0.5, y1 + h1 / 2
        if y1 != y0:  # the skip joins the target's input: the output of the block before it, on the source's row
            x1, py, ph = position[names[names.index(s.target) - 1]]
            end = py + ph / 2
        ax.plot([x0, x0, x1], [y0 + h0 / 2, top, top], color="0.55", lw=1, zorder=1)
        ax.annotate("", xy=(x1, end), xytext=(x1, top), zorder=1,
                    arrowprops=dict(arrowstyle="-|>", color="0.55", lw=1, shrinkA=0, shrinkB=0))
        ax.text((x0 + x1) / 2, top, "+" if s.mode == "add" else "cat", ha="center", va="center", fontsize=9,
                color="0.3", zorder=3, bbox=dict(facecolor="white", edgecolor="0.55", boxstyle="round,pad=0.15"))
    timed = [b for b in layout.blocks if b.time]
    bus = -row * depth - 0.75
    if timed:
        at = [position[b.name][0] for b in timed]
        ax.plot([min(at), max(at)], [bus, bus], color="tab:orange", lw=1.2)
        for b in timed:
            x, y, h = position[b.name]
            ax.annotate("", xy=(x, y - h / 2), xytext=(x, bus), zorder=1,
                        arrowprops=dict(arrowstyle="-|>", color="tab:orange", lw=1, shrinkA=0, shrinkB=0))
        ax.text((min(at) + max(at)) / 2, bus - 0.3, layout.time_mlp, ha="center", va="center", fontsize=9,
                color="tab:orange", bbox=dict(facecolor="white", edgecolor="tab:orange", boxstyle="round"))
    for level in range(depth + 1):
        frames = layout.frames // 2 ** level
        ax.text(-0.5, -row * level, f"{frames} frame{'s' * (frames > 1)}", ha="right", va="center", fontsize=9,
                color="0.4")
    ax.set(xlim=(-1.7, xs[-1] + 0.5), ylim=(bus - 0.6, 0.8))
    ax.set_axis_off()
    ax.set_title(f"{layout.title} ({layout.parameters / 1e6:.2f} M parameters)", fontsize=10)
    return ax


def _draw_unet_vertical(layout: UNetLayout, *, width: float):
    """:func:`draw_unet` for a phone (plots.phone_layout): the same boxes, running down the page, one column per
    level; skips are brackets on a column's left, the time enters from a line on the right. ``width`` inches."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    entries = [Block("input", "input", layout.in_channels, layout.in_channels, layout.frames, 0, False)]
    entries += layout.blocks
    depth = max(b.level for b in entries)
    units = width / 0.85  # the desktop drawing's 0.85 inches a unit, so that the 9 pt text fits its boxes
    spacing = min(1.0, (units - 2.3) / max(depth, 1))  # between columns; boxes are 0.7 wide
    ys = [0.0]
    for before, b in zip(entries, entries[1:]):  # columns closer than a box: rows must not overlap either
        ys.append(ys[-1] - (0.85 if b.level == before.level or spacing < 0.75 else 0.55))
    bus = depth * spacing + 0.8
    _, ax = plt.subplots(figsize=(width, 0.85 * (-ys[-1] + 3.4)), layout="constrained")
    smallest = min(b.channels for b in entries)
    position = {}
    for i, b in enumerate(entries):
        x, y = spacing * b.level, ys[i]
        h = 0.55 + 0.05 * math.log2(b.channels / smallest)
        position[b.name] = (x, y, h)
        color = BOX["latent"] if b.name == "input" else BOX["sampler"] if b.time else BOX["model"]
        ax.add_patch(FancyBboxPatch((x - 0.35, y - h / 2), 0.7, h, boxstyle="round,pad=0.02,rounding_size=0.05",
                                    facecolor=color, edgecolor="0.3", linewidth=1, zorder=2))
        op = "$x_t$" if b.name == "input" else b.op.replace(" ", "\n", 1)
        ax.text(x, y, f"{op}\n{b.channels} × {b.frames}", ha="center", va="center", fontsize=9, zorder=3)
        if i:  # from the block before: from its bottom when above (the same or a close column), else its side
            px, py, ph = position[entries[i - 1].name]
            start, end = ((px, py - ph / 2), (x, y + h / 2)) if abs(px - x) < 0.75 else \
                ((px + 0.37, py), (x - 0.37, y)) if x > px else ((px - 0.37, py), (x + 0.37, y))
            ax.annotate("", xy=end, xytext=start, zorder=1,
                        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1, shrinkA=0, shrinkB=0))
    names = [b.name for b in entries]
    for s in layout.skips:
        (x0, y0, h0), (x1, y1, h1) = position[s.source], position[s.target]
        end = x1 - 0.37
        if x1 != x0:  # the skip joins the target's input: the output of the block before it, in the source's column
            x1, y1, _ = position[names[names.index(s.target) - 1]]
            end = x1 - 0.37
        side = x0 - 0.5
        ax.plot([x0 - 0.35, side, side], [y0, y0, y1], color="0.55", lw=1, zorder=1)
        ax.annotate("", xy=(end, y1), xytext=(side, y1), zorder=1,
                    arrowprops=dict(arrowstyle="-|>", color="0.55", lw=1, shrinkA=0, shrinkB=0))
        ax.text(side, (y0 + y1) / 2, "+" if s.mode == "add" else "cat", ha="center", va="center", fontsize=9,
                color="0.3", zorder=3, rotation=90,
                bbox=dict(facecolor="white", edgecolor="0.55", boxstyle="round,pad=0.15"))
    timed = [b for b in layout.blocks if b.time]
    if timed:
        at = [position[b.name][1] for b in timed]
        low = ys[-1] - 0.9
        ax.plot([bus, bus], [max(at), low], color="tab:orange", lw=1.2)
        for b in timed:
            x, y, h = position[b.name]
            ax.annotate("", xy=(x + 0.37, y), xytext=(bus, y), zorder=1,
                        arrowprops=dict(arrowstyle="-|>", color="tab:orange", lw=1, shrinkA=0, shrinkB=0))
        ax.text(units / 2 - 0.95, low, layout.time_mlp, ha="center", va="top", fontsize=9, color="tab:orange",
                bbox=dict(facecolor="white", edgecolor="tab:orange", boxstyle="round"))
    for level in range(depth + 1):
        frames = layout.frames // 2 ** level
        ax.text(spacing * level, 0.5, f"{frames} frame{'s' * (frames > 1)}", ha="center", va="bottom", fontsize=9,
                color="0.4", rotation=90)
    ax.set(xlim=(-0.95, units - 0.95), ylim=(ys[-1] - 1.6, 1.6), aspect="equal")
    ax.set_axis_off()
    ax.set_title(f"{layout.title} ({layout.parameters / 1e6:.2f} M parameters)", fontsize=10, wrap=True)
    return ax

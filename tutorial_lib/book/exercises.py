"""Instant feedback for the chapters' exercises.

Each ``check_*`` runs the student's answer on cases whose answers are known and returns a
:class:`Feedback`: ``ok`` and a message in plain words, either what is wrong (the first problem found,
with a hint) or that it is right. In a notebook the feedback prints itself. A right answer is confirmed
without being repeated (no number, no formula): the solutions fold into dropdowns, and a check that
printed the answer would unfold them all.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from ..sampling import euler_step, sample


@dataclass
class Feedback:
    ok: bool
    message: str

    def __repr__(self) -> str:
        return ("Correct! " if self.ok else "Not yet: ") + self.message

    def __bool__(self) -> bool:
        return self.ok


def _run(fn, *args):
    """Calls the student's function; a crash becomes feedback instead of a traceback."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, Feedback(False, "the function is still the stub: replace `raise NotImplementedError` with your code.")
    except Exception as error:  # noqa: BLE001 - any error is something to tell the student
        return None, Feedback(False, f"calling it raised {type(error).__name__}: {error}")


# Chapter 1 --------------------------------------------------------------------------------------------

RATIOS = {"m2l": (44_100, 4096), "mel": (16_000, 1500)}  # (audio samples per second, samples per frame)


def check_compression_ratio(ratio, codec: str = "m2l") -> Feedback:
    """How many times fewer numbers than the mono audio (``"m2l"``: 44.1 kHz; ``"mel"``: 16 kHz)?"""
    if ratio is None or ratio is ...:
        return Feedback(False, "set `ratio` to a number.")
    rate, hop = RATIOS[codec]
    right = hop / 64
    ratio = float(ratio)
    if abs(ratio - right) < 0.05:
        return Feedback(True, "audio numbers per second divided by latent numbers per second.")
    if abs(ratio - 1 / right) < 0.01:
        return Feedback(False, "you divided the latent rate by the audio rate: the ratio is audio / latents, above 1.")
    if abs(ratio - hop) < 1:
        return Feedback(False, f"{hop} is the audio samples per latent frame, but each frame holds 64 numbers.")
    return Feedback(False, f"{ratio:g} is not it. Numbers per second: audio {rate:,}; latents 64 x {rate:,} / {hop}.")


# Chapter 2 --------------------------------------------------------------------------------------------

def check_note_name_parser(parse) -> Feedback:
    """``parse(name) -> (pitch, velocity)`` for NSynth names like ``guitar_acoustic_004-071-025``."""
    cases = {"guitar_acoustic_004-071-025": (71, 25), "guitar_electronic_021-040-127": (40, 127),
             "guitar_synthetic_000-100-050": (100, 50)}
    for name, expected in cases.items():
        got, problem = _run(parse, name)
        if problem is not None:
            return problem
        if got == (str(expected[0]).zfill(3), str(expected[1]).zfill(3)) or got == tuple(str(e) for e in expected):
            return Feedback(False, f"{name} gave {got}: convert the pieces to numbers with int().")
        if got == expected[::-1]:
            return Feedback(False, f"{name} gave {got}: pitch comes before velocity in the name.")
        if got != expected:
            return Feedback(False, f"{name} should give {expected}, got {got!r}. Split at '-': the last two pieces.")
    return Feedback(True, f"all {len(cases)} test names give the right pitch and velocity, as integers.")


# Chapter 3 --------------------------------------------------------------------------------------------

def check_conv_parameters(count) -> Feedback:
    """Parameters of the original tutorial's first level, ``Conv1d(64, 128, kernel_size=4)``."""
    if count is None or count is ...:
        return Feedback(False, "set `count` to a number.")
    weights, biases = 64 * 128 * 4, 128
    if count == weights + biases:
        return Feedback(True, "both the kernel weights and the biases are counted.")
    if count == weights:
        return Feedback(False, "close: you counted the weights; each output channel also has a bias.")
    if count == 64 * 128 + 128:
        return Feedback(False, "each weight is a kernel of 4 taps along time, not a single number.")
    return Feedback(False, f"{count} is not it: a Conv1d has in_channels x out_channels x kernel_size weights, plus a bias per output channel.")


def check_time_at_every_level(model_class) -> Feedback:
    """A PlainUNet-style class whose second encoder level already depends on t (the original tutorial's: only the bottleneck)."""
    torch.manual_seed(0)
    model, problem = _run(model_class)
    if problem is not None:
        return problem
    downs = getattr(model, "downs", None)
    if downs is None or len(downs) < 2:
        return Feedback(False, "keep the original tutorial's layout (a `downs` list of levels) so the check can look inside.")
    x = torch.randn(2, 64, 32, generator=torch.Generator().manual_seed(0))
    level_inputs = []
    hook = downs[1].register_forward_hook(lambda m, i, o: level_inputs.append(i[0].detach().clone()))
    try:
        for t in (0.1, 0.9):
            out, problem = _run(model, x, torch.full((2,), t))
            if problem is not None:
                return problem
            if not isinstance(out, torch.Tensor) or out.shape != x.shape:
                return Feedback(False, f"the output should keep the input's shape {tuple(x.shape)}.")
    finally:
        hook.remove()
    if torch.allclose(level_inputs[0], level_inputs[1]):
        return Feedback(False, "the second encoder level sees the same input for t = 0.1 and t = 0.9: "
                               "add a time embedding (projected to each level's channels) after every level.")
    return Feedback(True, "every level now knows the noise level.")


# Chapter 4 --------------------------------------------------------------------------------------------

def check_add_noise(add_noise) -> Feedback:
    """``add_noise(x, noise, t)`` must return ``(1 - t) x + t noise`` with ``t [B]`` broadcast."""
    g = torch.Generator().manual_seed(0)
    x, noise = torch.randn(3, 64, 8, generator=g), torch.randn(3, 64, 8, generator=g)
    out, problem = _run(add_noise, x, noise, torch.zeros(3))
    if problem is not None:
        return problem
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return Feedback(False, f"the result should have the shape of x, {tuple(x.shape)}, got "
                               f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}. "
                               "Reshape t to [B, 1, 1] so it broadcasts over channels and frames.")
    if torch.allclose(out, noise):
        return Feedback(False, "at t = 0 it returns the noise: time runs the wrong way. t = 0 is clean data, t = 1 is noise.")
    if not torch.allclose(out, x, atol=1e-6):
        return Feedback(False, "at t = 0 it should return x unchanged.")
    out, problem = _run(add_noise, x, noise, torch.ones(3))
    if problem is not None:
        return problem
    if torch.allclose(out, x + noise, atol=1e-6):
        return Feedback(False, "at t = 1 the data is still there: the data should fade as the noise grows, "
                               "so multiply x by (1 - t).")
    if not torch.allclose(out, noise, atol=1e-6):
        return Feedback(False, "at t = 1 it should return pure noise.")
    t = torch.tensor([0.1, 0.5, 0.9])
    out, problem = _run(add_noise, x, noise, t)
    if problem is not None:
        return problem
    expected = (1 - t)[:, None, None] * x + t[:, None, None] * noise
    if torch.allclose(out, x + t[:, None, None] * noise, atol=1e-6):
        return Feedback(False, "the data should fade as the noise grows: multiply x by (1 - t).")
    if not torch.allclose(out, expected, atol=1e-5):
        return Feedback(False, "right at t = 0 and t = 1, wrong in between: each example must use its own t "
                               "(t has shape [B]; reshape it to [B, 1, 1]) and mix linearly.")
    return Feedback(True, "right at t = 0, at t = 1, and in between with a different time for each example.")


def check_sample_times(sample_times) -> Feedback:
    """``sample_times(batch, generator)`` must give logit-normal times: ``sigmoid(N(0, 1))``, shape ``[batch]``."""
    t, problem = _run(sample_times, 50_000, torch.Generator().manual_seed(0))
    if problem is not None:
        return problem
    if not isinstance(t, torch.Tensor) or t.shape != (50_000,):
        return Feedback(False, "return a tensor of shape [batch], one time per example.")
    if not bool(((t > 0) & (t < 1)).all()):
        return Feedback(False, "some times are outside (0, 1): squash the normal samples with torch.sigmoid.")
    again, _ = _run(sample_times, 50_000, torch.Generator().manual_seed(0))
    if not torch.equal(t, again):
        return Feedback(False, "the same generator should give the same times: pass `generator=` to torch.randn.")
    logits = torch.log(t / (1 - t))
    mean, std = logits.mean().item(), logits.std().item()
    if abs(mean) > 0.05 or abs(std - 1) > 0.05:
        if abs(t.mean().item() - 0.5) < 0.02 and abs(t.std().item() - math.sqrt(1 / 12)) < 0.02:
            return Feedback(False, "these look uniform on (0, 1): draw n ~ N(0, 1) with torch.randn, then t = sigmoid(n).")
        return Feedback(False, f"logit(t) should be standard normal, but has mean {mean:.2f} and std {std:.2f}.")
    return Feedback(True, "50,000 times in (0, 1), reproducible with the generator, with the right spread: "
                          "most in the middle, few near 0 and 1.")


# Chapter 5 --------------------------------------------------------------------------------------------

def _straight_field(target):
    """The exact velocity for data that is one point ``target``: straight lines, (target - x) / t."""
    return lambda x, t: (target - x) / t.reshape(-1, *([1] * (x.ndim - 1)))


def check_euler_step(step) -> Feedback:
    """``step(f, x, t, t_next)`` must return ``x + (t - t_next) f(x, t)``."""
    x = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0))
    constant = torch.full_like(x, 0.5)
    calls = []

    def field(x_, t_):
        calls.append(float(torch.as_tensor(t_).reshape(-1)[0]))
        return constant

    out, problem = _run(step, field, x, 1.0, 0.75)
    if problem is not None:
        return problem
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return Feedback(False, "return the new x, a tensor of the same shape as x.")
    if torch.allclose(out, x - 0.25 * constant):
        return Feedback(False, "x moved against the velocity: f points towards the data, so add h * f with h = t - t_next > 0.")
    if torch.allclose(out, x + constant):
        return Feedback(False, "the step should be scaled by its size h = t - t_next (here 0.25).")
    if not torch.allclose(out, x + 0.25 * constant, atol=1e-6):
        return Feedback(False, "with a constant velocity 0.5 and a step from t = 1 to 0.75, x should move by 0.125.")
    if calls and abs(calls[0] - 1.0) > 1e-6:
        return Feedback(False, f"evaluate f at the start of the step (t = 1.0), not at t = {calls[0]:g}.")
    target = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(1))
    expected = euler_step(_straight_field(target), x, 0.5, 0.25)
    out, problem = _run(step, _straight_field(target), x, 0.5, 0.25)
    if problem is not None:
        return problem
    if not torch.allclose(out, expected, atol=1e-5):
        return Feedback(False, "right for a constant field, wrong for one that depends on x and t: call f(x, t) with "
                               "the current x and a tensor of times of shape [B].")
    return Feedback(True, "right for a constant velocity and for one that depends on x and t.")


def check_sampler(sampler) -> Feedback:
    """``sampler(model, noise, num_steps)`` must integrate from t = 1 to 0 with Euler steps (the original tutorial's)."""
    g = torch.Generator().manual_seed(0)
    noise, target = torch.randn(2, 4, 3, generator=g), torch.randn(2, 4, 3, generator=g)
    times_seen = []

    def model(x, t):
        times_seen.append(float(torch.as_tensor(t).reshape(-1)[0]))
        return (target - x) / t.reshape(-1, 1, 1) if t.ndim else (target - x) / t

    out, problem = _run(sampler, model, noise, 4)
    if problem is not None:
        return problem
    if not isinstance(out, torch.Tensor) or out.shape != noise.shape:
        return Feedback(False, "return the final sample, a tensor of the shape of the noise.")
    if len(times_seen) != 4:
        return Feedback(False, f"4 steps should call the model 4 times, it was called {len(times_seen)} times.")
    if abs(times_seen[0] - 1.0) > 1e-6:
        return Feedback(False, f"start at t = 1 (pure noise); the first call used t = {times_seen[0]:g}.")
    if any(b >= a for a, b in zip(times_seen, times_seen[1:])):
        return Feedback(False, f"time must decrease from 1 towards 0; it went {['%.2f' % t for t in times_seen]}.")
    if abs(times_seen[-1] - 0.25) > 1e-6:
        return Feedback(False, f"with 4 steps the times are 1, 0.75, 0.5, 0.25; you used {['%.2f' % t for t in times_seen]}.")
    if not torch.allclose(out, target, atol=1e-4):
        return Feedback(False, "the times are right but the result is not: each step is x + (1 / num_steps) * v.")
    linear = lambda x, t: x  # exact solution e * x(1); compare with the library's Euler
    out, problem = _run(sampler, linear, noise, 10)
    reference = sample(linear, noise, num_steps=10).samples
    if problem is not None or not torch.allclose(out, reference, atol=1e-4):
        return Feedback(False, "fine on straight paths, but not on a curved field: update x with the velocity at the "
                               "current x each step, and t by 1 / num_steps.")
    return Feedback(True, "the right model calls at the right times, and the library's result on a curved field.")


# Interlude: a flow you can see -----------------------------------------------------------------------

def check_gaussian_velocity(velocity) -> Feedback:
    """``velocity(x [B, 2], t [B], mu [2], std)``: the exact ``E[x_0 - z | x_t = x]`` for data ``N(mu, std^2 I)``."""
    from ..toy_flow import GaussianMixture

    data = GaussianMixture(num_modes=1, radius=1.5, std=0.3)
    mu, g = data.means[0], torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    for t, hint in ((1.0, "at t = 1, x is pure noise and tells nothing about x_0: what is E[x_0] - x there?"),
                    (0.0, "at t = 0, x is the data itself and z has mean 0: what is E[x_0 - z] there?")):
        out, problem = _run(velocity, x, torch.full((64,), t), mu, data.std)
        if problem is not None:
            return problem
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            return Feedback(False, "return a tensor of the shape of x, [B, 2].")
        if not torch.allclose(out, data.velocity(x, torch.full((64,), t)), atol=1e-4):
            return Feedback(False, hint)
    t = torch.rand(64, generator=g) * 0.9 + 0.05
    out, problem = _run(velocity, x, t, mu, data.std)
    if problem is not None:
        return problem
    if not torch.allclose(out, data.velocity(x, t), atol=1e-4):
        return Feedback(False, "right at t = 0 and t = 1, not in between: x_t is Gaussian with mean (1 - t) mu and "
                               "variance (1 - t)^2 std^2 + t^2; regress x_0 and z on it.")
    return Feedback(True, "your field matches the exact one at t = 0, at t = 1 and at 64 times in between.")


# Chapter 6 --------------------------------------------------------------------------------------------

def check_guidance(guide) -> Feedback:
    """``guide(v_cond, v_uncond, w)``: classifier-free guidance, ``v_uncond + w (v_cond - v_uncond)``."""
    g = torch.Generator().manual_seed(0)
    cond, uncond = torch.randn(2, 4, 3, generator=g), torch.randn(2, 4, 3, generator=g)
    results = {}
    for w in (0.0, 1.0, 3.0):
        out, problem = _run(guide, cond, uncond, w)
        if problem is not None:
            return problem
        if not isinstance(out, torch.Tensor) or out.shape != cond.shape:
            return Feedback(False, "return one velocity, a tensor of the shape of v_cond.")
        results[w] = out
    if torch.allclose(results[0.0], cond, atol=1e-6) and not torch.allclose(results[1.0], cond, atol=1e-6):
        return Feedback(False, "v_cond and v_uncond are swapped: w = 0 should give the model without labels.")
    if not torch.allclose(results[0.0], uncond, atol=1e-6):
        return Feedback(False, "at w = 0 guidance switches the labels off: the result should be v_uncond.")
    if not torch.allclose(results[1.0], cond, atol=1e-6):
        return Feedback(False, "at w = 1 the result should be the conditional model's own velocity, v_cond.")
    if not torch.allclose(results[3.0], uncond + 3.0 * (cond - uncond), atol=1e-5):
        return Feedback(False, "right at w = 0 and w = 1, wrong beyond: guidance extrapolates along the line "
                               "from v_uncond through v_cond, w times the difference between them.")
    return Feedback(True, "right without labels, with them, and beyond them.")


def check_invert(invert_fn) -> Feedback:
    """``invert_fn(f, x, num_steps)``: Euler steps from t = 0 up to t = 1, the sampler run backwards."""
    from ..sampling import integrate, time_grid

    g = torch.Generator().manual_seed(0)
    x, v = torch.randn(2, 4, 3, generator=g), torch.randn(2, 4, 3, generator=g)
    times_seen = []

    def constant(x_, t_):
        times_seen.append(float(torch.as_tensor(t_).reshape(-1)[0]))
        return v

    out, problem = _run(invert_fn, constant, x, 4)
    if problem is not None:
        return problem
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return Feedback(False, "return the noise, a tensor of the shape of x.")
    if len(times_seen) != 4:
        return Feedback(False, f"4 steps should call f 4 times, it was called {len(times_seen)} times.")
    if abs(times_seen[0]) > 1e-6 or any(b <= a for a, b in itertools.pairwise(times_seen)):
        return Feedback(False, f"start at t = 0 (the note) and let time grow towards 1; you used "
                               f"{[f'{t:.2f}' for t in times_seen]}.")
    if torch.allclose(out, x + v, atol=1e-5):
        return Feedback(False, "x moved along the velocity: f points from the noise to the data, so going "
                               "towards the noise moves against it.")
    if not torch.allclose(out, x - v, atol=1e-5):
        return Feedback(False, "with a constant velocity v, the whole way from t = 0 to 1 should move x by "
                               "exactly -v: each step is 1 / num_steps of it.")
    curved = lambda x_, t_: torch.sin(x_) * (1 + t_.reshape(-1, 1, 1))
    out, problem = _run(invert_fn, curved, x, 8)
    if problem is not None:
        return problem
    reference, _ = integrate(curved, x, time_grid(8).flip(0), "euler")
    if not torch.allclose(out, reference, atol=1e-5):
        return Feedback(False, "fine for a constant velocity, not for one that depends on x and t: evaluate f at "
                               "the current x and time at the start of each step.")
    return Feedback(True, "the right times, the right direction, and the library's result on a curved field.")


# Chapter 6a: straight and fast ------------------------------------------------------------------------

def _number(value) -> float | None:
    try:
        return float(torch.as_tensor(value, dtype=torch.float64).mean())
    except (TypeError, ValueError, RuntimeError):
        return None


def _euler_path_straightness(f, noise, num_steps, *, upwards=False, chord_sign=1.0):
    """The library's measure (``upwards=False, chord_sign=1``) and the usual mistakes, to name them."""
    from ..sampling import time_grid

    times = time_grid(num_steps)
    times = times.flip(0) if upwards else times
    x, vs = noise, []
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        v = f(x, torch.full((len(x),), t))
        vs.append(v)
        x = x + abs(t - t_next) * v
    chord = chord_sign * (x - noise)
    return float(torch.stack([((chord - v) ** 2).flatten(1).mean(1) for v in vs]).mean())


def _watch_times(velocity):
    """``velocity`` that also records the first time of each call (to name a path walked the wrong way)."""
    seen = []

    def watched(x, t, *rest):
        seen.append(float(torch.as_tensor(t).reshape(-1)[0]))
        return velocity(x, t, *rest)

    return watched, seen


def _wrong_way(seen) -> bool:
    return len(seen) > 1 and (seen[0] < 0.5 or seen[1] > seen[0])


def check_straightness(measure) -> Feedback:
    """``measure(velocity, noise [B, 2], num_steps)``: ``S = E_t ||(x_0 - z) - v(x_t, t)||^2`` along the Euler path
    from ``z`` at t = 1 to ``x_0`` at t = 0, per number (the mean over the elements of each example)."""
    from ..toy_flow import GaussianMixture

    noise = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    straight = GaussianMixture(num_modes=1, radius=1.5, std=0.0).velocity  # every path a straight line
    curved = GaussianMixture(num_modes=4, radius=2.0, std=0.2).velocity
    watched, seen = _watch_times(straight)
    out, problem = _run(measure, watched, noise, 20)
    if problem is not None:
        return problem
    if _wrong_way(seen):
        return Feedback(False, "time runs the wrong way: the noise sits at t = 1, so the path starts at t = 1 and "
                               "steps down towards t = 0 (the last step starts at t = 1 / num_steps).")
    value = _number(out)
    if value is None:
        return Feedback(False, "return one number (or a tensor of numbers to average), the straightness.")
    if not math.isfinite(value):
        return Feedback(False, f"the straightness came out {value}: the path starts at t = 1 (noise) and its last "
                               "step starts at t = 1 / num_steps; the velocity is never needed at t = 0 itself.")
    if value > 1e-6:
        if abs(value - _euler_path_straightness(straight, noise, 20, chord_sign=-1.0)) < 1e-3 * max(1.0, value):
            return Feedback(False, "the chord points the wrong way: the velocity points from the noise to the data, "
                                   "so compare it with x_0 - z (the end minus the start), not z - x_0.")
        return Feedback(False, f"a field whose paths are straight lines should score 0, yours gives {value:.3g}: "
                               "compare each velocity on the path with the chord x_0 - z of that same path.")
    out, problem = _run(measure, curved, noise, 20)
    if problem is not None:
        return problem
    value, right = _number(out), _euler_path_straightness(curved, noise, 20)
    if value is not None and abs(value - right) < 1e-3 * right:
        return Feedback(True, "0 on straight paths, and the library's value on curved ones.")
    if value is not None and abs(value - 2 * right) < 1e-3 * right:
        return Feedback(False, "close: average the squared difference over the numbers of each point (its mean), "
                               "not their sum.")
    return Feedback(False, "0 on straight paths, but not the library's value on curved ones: take an Euler path of "
                           "num_steps steps from t = 1 to 0, keep the velocity of every step, and average "
                           "||(x_0 - z) - v||^2 over the steps and the points.")


def check_reflow_pairs(make_pairs) -> Feedback:
    """``make_pairs(velocity, noise [N, 2], labels [N], num_steps) -> (noise, latents, labels)``: each ``latents[i]``
    is the end of the ODE of ``velocity(x, t, labels)`` from ``noise[i]`` (t = 1) to t = 0, labels kept in order."""
    from ..sampling import sample
    from ..toy_flow import GaussianMixture

    modes = [GaussianMixture(num_modes=1, radius=r, std=0.3) for r in (1.0, 2.0, 3.0)]
    means = torch.stack([m.means[0] for m in modes])

    def velocity(x, t, labels):
        # data of label k: N(mu_k, 0.3^2 I), whose exact field moves noise z to mu_k + 0.3 z (each label its own map)
        out = torch.empty_like(x)
        for k, m in enumerate(modes):
            chosen = labels == k
            if chosen.any():
                out[chosen] = m.velocity(x[chosen], t[chosen] if t.ndim else t)
        return out

    g = torch.Generator().manual_seed(0)
    noise, labels = torch.randn(96, 2, generator=g), torch.randint(3, (96,), generator=g)
    watched, seen = _watch_times(velocity)
    out, problem = _run(make_pairs, watched, noise, labels, 40)
    if problem is not None:
        return problem
    if _wrong_way(seen):
        return Feedback(False, "time runs the wrong way: the noise sits at t = 1, so start there and step DOWN "
                               "to t = 0; where that ODE ends is the pair's note.")
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return Feedback(False, "return three things: (noise, latents, labels).")
    z, x0, kept = (torch.as_tensor(o) for o in out)
    if z.shape != noise.shape or x0.shape != noise.shape or kept.shape != labels.shape:
        return Feedback(False, "noise and latents should each have the shape of the noise given, labels of the labels.")
    if not torch.equal(kept, labels):
        return Feedback(False, "keep each pair's labels, in the same order: the labels are part of the pair.")
    if not torch.allclose(z, noise):
        return Feedback(False, "return the noise you started from: a pair is (that noise, where the ODE takes it); "
                               "new or reshuffled noise makes the couplings cross again, as in the first flow.")
    right = sample(lambda x, t: velocity(x, t, labels), noise, num_steps=40).samples
    if torch.allclose(x0, right, atol=1e-4):
        return Feedback(True, "each note is where the model's own ODE takes its noise, with its labels kept.")
    ends = noise * 0.3 + means[labels]
    if torch.allclose(x0, ends, atol=0.05):  # solved exactly in another way: fine as well
        return Feedback(True, "each note is where the model's own ODE takes its noise, with its labels kept.")
    near_modes = torch.cdist(x0, means).min(1).values.mean() < 0.6
    if near_modes and (x0 - ends).norm(dim=1).mean() > 0.2:
        return Feedback(False, "the latents look like data of the right labels but are not where this noise goes: "
                               "each latent must come from the ODE started at ITS OWN noise, not from other noise "
                               "(or samples drawn on their own).")
    return Feedback(False, "the latents are not where the ODE takes the noise: start at t = 1 from the noise, step "
                           "DOWN to t = 0 with the velocity given the labels, and return where it ends.")

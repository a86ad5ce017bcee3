"""Every check fails on the stub and on typical mistakes, and passes on the book's own solution.

The solutions and stubs are read from the notebooks, so the book and these tests cannot drift apart.
"""

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tutorial_lib.book import exercises as ex
from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.profiles import get_profile
from tutorial_lib.sampling import sample
from tutorial_lib.unet import PlainUNet

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def solution_cells():
    """{notebook stem: [(solution source, stub source)]} from the cells tagged 'solution'."""
    found = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if "solution" in cell["metadata"].get("tags", []):
                found.setdefault(path.stem, []).append(("".join(cell["source"]), cell["metadata"]["tutorial_lib"]["stub"]))
    return found


SOLUTIONS = solution_cells()


def run(source, name, **context):
    namespace = {"torch": torch, "nn": nn, "F": F, "np": np, "math": math, "PlainUNet": PlainUNet, **context}
    exec(source, namespace)
    return namespace[name]


def both(chapter, index, name, **context):
    solution, stub = SOLUTIONS[chapter][index]
    return run(solution, name, **context), run(stub, name, **context)


def test_every_chapter_has_coding_exercises_with_stubs():
    assert {k: len(v) for k, v in SOLUTIONS.items()} == {
        "01_codec": 2, "02_dataset": 1, "03_unet": 2, "04a_toy_flow": 2, "04_training": 2, "05_sampling": 2,
        "06_control": 2, "06a_straight_fast": 2}
    for cells in SOLUTIONS.values():
        for solution, stub in cells:
            assert stub and stub != solution


def test_compression_ratios():
    ratio, stub = both("01_codec", 0, "ratio")
    assert ex.check_compression_ratio(ratio) and not ex.check_compression_ratio(stub)
    assert "set `ratio`" in repr(ex.check_compression_ratio(stub))
    assert "divided the latent rate" in repr(ex.check_compression_ratio(1 / 64))
    assert "64 numbers" in repr(ex.check_compression_ratio(4096))
    mel, _ = both("01_codec", 1, "ratio_mel")
    assert ex.check_compression_ratio(mel, codec="mel") and not ex.check_compression_ratio(mel)


def test_note_name_parser():
    good, stub = both("02_dataset", 0, "pitch_and_velocity")
    assert ex.check_note_name_parser(good)
    assert "still the stub" in repr(ex.check_note_name_parser(stub))
    assert "int()" in repr(ex.check_note_name_parser(lambda n: tuple(n.split("-")[1:])))
    assert "pitch comes before" in repr(ex.check_note_name_parser(lambda n: good(n)[::-1]))


def test_conv_parameters():
    count, stub = both("03_unet", 0, "count")
    assert ex.check_conv_parameters(count) and not ex.check_conv_parameters(stub)
    assert "bias" in repr(ex.check_conv_parameters(64 * 128 * 4))


def test_time_at_every_level():
    profile = get_profile("cpu")
    source, stub = SOLUTIONS["03_unet"][1]
    class_only = source.split("config = TrainConfig")[0]  # the solution also trains; the check needs the class
    good = run(class_only, "PlainUNetTimeEverywhere", profile=profile)
    assert ex.check_time_at_every_level(good)
    assert "still the stub" in repr(ex.check_time_at_every_level(run(stub, "PlainUNetTimeEverywhere")))
    plain = lambda: PlainUNet(**profile.plain_model_kwargs)  # the original tutorial's own: time only at the bottleneck
    assert "same input for t = 0.1 and t = 0.9" in repr(ex.check_time_at_every_level(plain))


def test_add_noise():
    good, stub = both("04_training", 0, "add_noise")
    assert ex.check_add_noise(good) and ex.check_add_noise(RectifiedFlow.add_noise)
    assert "still the stub" in repr(ex.check_add_noise(stub))
    backwards = lambda x, z, t: good(z, x, t)
    assert "time runs the wrong way" in repr(ex.check_add_noise(backwards))
    assert "multiply x by (1 - t)" in repr(ex.check_add_noise(lambda x, z, t: x + t.reshape(-1, 1, 1) * z))
    assert "shape" in repr(ex.check_add_noise(lambda x, z, t: ((1 - t) * x.mean((1, 2)) + t * z.mean((1, 2)))))


def test_sample_times():
    good, stub = both("04_training", 1, "sample_times")
    assert ex.check_sample_times(good)
    assert "still the stub" in repr(ex.check_sample_times(stub))
    assert "look uniform" in repr(ex.check_sample_times(lambda b, g: torch.rand(b, generator=g)))
    assert "outside (0, 1)" in repr(ex.check_sample_times(lambda b, g: torch.randn(b, generator=g)))
    assert "same generator" in repr(ex.check_sample_times(lambda b, g: torch.sigmoid(torch.randn(b))))
    assert "std 2.00" in repr(ex.check_sample_times(lambda b, g: torch.sigmoid(2 * torch.randn(b, generator=g))))


def test_euler_step():
    good, stub = both("05_sampling", 0, "my_euler_step")
    assert ex.check_euler_step(good)
    assert "still the stub" in repr(ex.check_euler_step(stub))
    against = lambda f, x, t, tn: x - (t - tn) * f(x, torch.full((x.shape[0],), t))
    assert "against the velocity" in repr(ex.check_euler_step(against))
    unscaled = lambda f, x, t, tn: x + f(x, torch.full((x.shape[0],), t))
    assert "scaled by its size" in repr(ex.check_euler_step(unscaled))
    at_end = lambda f, x, t, tn: x + (t - tn) * f(x, torch.full((x.shape[0],), tn))
    assert not ex.check_euler_step(at_end)


def test_sampler():
    good, stub = both("05_sampling", 1, "my_sampler")
    assert ex.check_sampler(good)
    assert "still the stub" in repr(ex.check_sampler(stub))

    def from_zero(model, noise, num_steps):  # time running the wrong way
        x, dt, t = noise, 1 / num_steps, torch.zeros(noise.shape[0]) + 1e-3
        for _ in range(num_steps):
            x, t = x + dt * model(x, t), t + dt
        return x

    assert "start at t = 1" in repr(ex.check_sampler(from_zero))

    def extra_call(model, noise, num_steps):
        return good(model, noise, num_steps + 1)

    assert "called 5 times" in repr(ex.check_sampler(extra_call))


def test_a_crash_in_student_code_is_feedback_not_a_traceback():
    feedback = ex.check_add_noise(lambda x, z, t: x @ z)
    assert not feedback and "raised RuntimeError" in repr(feedback)


def test_a_right_answer_is_confirmed_without_giving_it_away():
    """The solutions fold into dropdowns: a passing check must not print the answer (numbers or formula)."""
    ratio, _ = both("01_codec", 0, "ratio")
    ratio_mel, _ = both("01_codec", 1, "ratio_mel")
    count, _ = both("03_unet", 0, "count")
    passing = [
        (ex.check_compression_ratio(ratio), ("64", "4096", "44,100", "689")),
        (ex.check_compression_ratio(ratio_mel, codec="mel"), ("23", "1500", "16,000")),
        (ex.check_conv_parameters(count), ("32,896", "32896", "32768", "x 128", "64 x")),
        (ex.check_note_name_parser(both("02_dataset", 0, "pitch_and_velocity")[0]), ("split", "int(", "'-'")),
        (ex.check_add_noise(both("04_training", 0, "add_noise")[0]), ("(1 - t)", "t z", "reshape")),
        (ex.check_sample_times(both("04_training", 1, "sample_times")[0]), ("sigmoid", "randn", "N(0, 1)")),
        (ex.check_euler_step(both("05_sampling", 0, "my_euler_step")[0]), ("t_next", "f(x, t)", "x +")),
        (ex.check_sampler(both("05_sampling", 1, "my_sampler")[0]), ("1 / num_steps", "dt", "x +")),
        (ex.check_guidance(both("06_control", 0, "guide")[0]), ("v_uncond +", "w *", "w (", "extrapolat")),
        (ex.check_invert(both("06_control", 1, "my_invert")[0]), ("x -", "- dt", "against", "dt *")),
        (ex.check_straightness(both("06a_straight_fast", 0, "my_straightness", sample=sample)[0]),
         ("chord", "x - noise", "mean(")),
        (ex.check_reflow_pairs(both("06a_straight_fast", 1, "my_reflow_pairs", sample=sample)[0]),
         ("sample(", "velocity(x, t, labels)")),
    ]
    for feedback, answers in passing:
        assert feedback.ok, feedback
        for answer in answers:
            assert answer not in feedback.message, (answer, feedback.message)


def test_guidance():
    good, stub = both("06_control", 0, "guide")
    assert ex.check_guidance(good)
    assert "still the stub" in repr(ex.check_guidance(stub))
    assert "swapped" in repr(ex.check_guidance(lambda c, u, w: c + w * (u - c)))
    assert "w = 0" in repr(ex.check_guidance(lambda c, u, w: c + w * (c - u)))
    assert "beyond" in repr(ex.check_guidance(lambda c, u, w: u + min(w, 1.0) * (c - u)))
    assert "shape" in repr(ex.check_guidance(lambda c, u, w: (u + w * (c - u)).sum()))


def test_invert():
    good, stub = both("06_control", 1, "my_invert")
    assert ex.check_invert(good)
    assert "still the stub" in repr(ex.check_invert(stub))

    def along(f, x, num_steps):  # the sampler's sign
        t = torch.zeros(x.shape[0])
        for _ in range(num_steps):
            x, t = x + f(x, t) / num_steps, t + 1 / num_steps
        return x

    assert "against it" in repr(ex.check_invert(along))

    def downwards(f, x, num_steps):  # time running from 1 to 0
        t = torch.ones(x.shape[0])
        for _ in range(num_steps):
            x, t = x - f(x, t) / num_steps, t - 1 / num_steps
        return x

    assert "start at t = 0" in repr(ex.check_invert(downwards))

    def frozen_x(f, x, num_steps):  # the velocity at the note for every step: right only for a constant field
        t, start = torch.zeros(x.shape[0]), x
        for _ in range(num_steps):
            x, t = x - f(start, t) / num_steps, t + 1 / num_steps
        return x

    assert "curved" not in repr(ex.check_invert(frozen_x)) and "depends on x and t" in repr(ex.check_invert(frozen_x))


def test_straightness_check_names_the_usual_mistakes():
    good, stub = both("06a_straight_fast", 0, "my_straightness", sample=sample)
    assert ex.check_straightness(good)
    assert "still the stub" in repr(ex.check_straightness(stub))

    def upwards(velocity, noise, num_steps):  # time running from 0 up to 1
        x, vs = noise, []
        for k in range(num_steps):
            v = velocity(x, torch.full((len(x),), k / num_steps))
            vs.append(v)
            x = x + v / num_steps
        return torch.stack([((x - noise - v) ** 2).mean(1) for v in vs]).mean()

    assert "wrong way" in repr(ex.check_straightness(upwards))

    def flipped(velocity, noise, num_steps):  # the chord z - x_0
        x, vs = noise, []
        for k in range(num_steps):
            v = velocity(x, torch.full((len(x),), 1 - k / num_steps))
            vs.append(v)
            x = x + v / num_steps
        return torch.stack([((noise - x - v) ** 2).mean(1) for v in vs]).mean()

    assert "chord points the wrong way" in repr(ex.check_straightness(flipped))
    assert "0 on straight paths, but not" in repr(ex.check_straightness(lambda f, z, k: 0.0))


def test_reflow_pairs_check_names_the_usual_mistakes():
    good, stub = both("06a_straight_fast", 1, "my_reflow_pairs", sample=sample)
    assert ex.check_reflow_pairs(good)
    assert "still the stub" in repr(ex.check_reflow_pairs(stub))

    def independent(velocity, noise, labels, num_steps):  # notes from other noise, paired with this noise
        other = torch.randn(noise.shape, generator=torch.Generator().manual_seed(7))
        return noise, good(velocity, other, labels, num_steps)[1], labels

    assert "ITS OWN noise" in repr(ex.check_reflow_pairs(independent))

    def fresh(velocity, noise, labels, num_steps):  # new noise returned with the notes
        return torch.randn_like(noise), good(velocity, noise, labels, num_steps)[1], labels

    assert "noise you started from" in repr(ex.check_reflow_pairs(fresh))

    def upwards(velocity, noise, labels, num_steps):  # time running from 0 up to 1
        x = noise
        for k in range(num_steps):
            x = x + velocity(x, torch.full((len(x),), k / num_steps + 1e-3), labels) / num_steps
        return noise, x, labels

    assert "step DOWN" in repr(ex.check_reflow_pairs(upwards))
    assert "labels" in repr(ex.check_reflow_pairs(lambda v, z, y, k: (z, good(v, z, y, k)[1], y.flip(0))))

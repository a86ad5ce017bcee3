"""The book's note players (tutorial_lib.book.web_model): the exported ONNX graph, run by onnxruntime, makes the
library's notes. The page's own JavaScript is held to the library in browser_tests/test_note_player.py."""

import numpy as np
import pytest
import torch

from tutorial_lib.book.web_model import GuidedVelocity, export_onnx, page_spec, web_noise
from tutorial_lib.conditioning import Conditions
from tutorial_lib.generation import load_pretrained
from tutorial_lib.sampling import integrate, time_grid

ort = pytest.importorskip("onnxruntime")

#: Largest difference allowed between the graph's latents and the library's (standardised units; measured over
#: CASES: 2.4e-6 to 1.3e-5), and between the notes decoded from them (measured: 3.6e-6 to 5.9e-4, the largest for
#: Heun with guidance 2, of peaks 0.28-0.70: the decoder carries the latents' difference, it does not blow it up).
LATENT_TOLERANCE, AUDIO_TOLERANCE = 1e-4, 2e-3
CASES = [  # model, labels, guidance, model calls, solver
    ("cpu-long", {"pitch": 60, "source": "acoustic", "velocity": 100}, 1.0, 1, "euler"),
    ("cpu-long", {"pitch": 48, "source": "electronic", "velocity": 127}, 2.0, 4, "heun"),
    ("cpu-long", {}, 1.0, 6, "euler"),
    ("cpu-long-reflow", {"pitch": 72, "source": "synthetic", "velocity": 75}, 0.0, 2, "midpoint"),
]


@pytest.fixture(scope="module")
def generators():
    return {name: load_pretrained(name) for name in ("cpu-long", "cpu-long-reflow")}


@pytest.fixture(scope="module")
def graphs(generators, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    return {name: str(export_onnx(g.model, folder / f"{name}.onnx")) for name, g in generators.items()}


def onnx_latents(graph: str, noise: torch.Tensor, *, labels: dict, guidance: float, calls: int, solver: str,
                 sigma_data: float = 1.0) -> torch.Tensor:
    """The library's own solver steps (sampling.integrate), each velocity computed by the ONNX graph."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    c = Conditions.make(len(noise), **labels)
    fixed = {"pitch": c.pitch.numpy(), "source": c.source.numpy(), "velocity": c.velocity.numpy(),
             "guidance": np.array([guidance], dtype=np.float32)}

    def velocity(x, t):
        return torch.from_numpy(session.run(None, {**fixed, "x": x.numpy(), "t": t.numpy()})[0])

    steps = calls if solver == "euler" else calls // 2
    x, _ = integrate(velocity, noise, time_grid(steps), solver)
    return x / sigma_data


def largest_differences(generator, graph, name, labels, guidance, calls, solver, seed=3):
    noise = web_noise(seed)
    steps = calls if solver == "euler" else calls // 2
    library = generator.sample_latents(1, noise=noise, guidance=guidance, num_steps=steps, solver=solver,
                                       **{k: labels.get(k) for k in ("pitch", "source", "velocity")})
    page = onnx_latents(graph, noise, labels=labels, guidance=guidance, calls=calls, solver=solver,
                        sigma_data=generator.flow.sigma_data)
    return library, page, float((library - page).abs().max())


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[4]}{c[3]}-g{c[2]:g}")
def test_the_exported_graph_makes_the_librarys_notes(generators, graphs, case):
    name, labels, guidance, calls, solver = case
    g = generators[name]
    library, page, latent_gap = largest_differences(g, graphs[name], name, labels, guidance, calls, solver)
    assert latent_gap < LATENT_TOLERANCE, latent_gap
    heard, made = g.space.to_audio(library)[0], g.space.to_audio(page)[0]
    assert np.abs(heard - made).max() < AUDIO_TOLERANCE, np.abs(heard - made).max()


def test_a_perturbed_export_fails_the_comparison(generators, tmp_path):
    g = generators["cpu-long"]
    broken = load_pretrained("cpu-long").model
    with torch.no_grad():
        broken.conv_out.bias += 0.01  # a hundredth on every output channel: far below what an ear notices
    graph = str(export_onnx(broken, tmp_path / "broken.onnx"))
    _, _, gap = largest_differences(g, graph, "cpu-long", CASES[0][1], 1.0, 1, "euler")
    assert gap > LATENT_TOLERANCE, gap


def test_the_graph_takes_any_for_missing_labels_and_guidance_as_the_library_does(generators):
    model = generators["cpu-long"].model
    x, t = web_noise(1, (2, 64, 32)), torch.tensor([1.0, 0.5])
    none = torch.full((2,), -1, dtype=torch.long)
    with torch.no_grad():
        unconditional = model(x, t)
        assert torch.allclose(GuidedVelocity(model)(x, t, none, none, none, torch.tensor([3.0])), unconditional, atol=1e-5)
        labels = Conditions.make(2, pitch=60, source="acoustic", velocity=100)
        conditional = model(x, t, labels)
        guided = GuidedVelocity(model)(x, t, labels.pitch, labels.source, labels.velocity, torch.tensor([2.0]))
        assert torch.allclose(guided, unconditional + 2.0 * (conditional - unconditional), atol=1e-5)


def test_web_noise_is_seeded_standard_normal_from_numpys_mersenne_twister():
    a, b = web_noise(5), web_noise(5)
    assert torch.equal(a, b) and not torch.equal(a, web_noise(6)) and a.shape == (1, 64, 32) and a.dtype == torch.float32
    big = web_noise(0, (200_000,)).double()
    assert abs(big.mean()) < 0.01 and abs(big.std() - 1) < 0.01
    u1, u2 = np.random.RandomState(0).random_sample(2)  # the first pair, by hand
    assert web_noise(0, (2,)).tolist() == pytest.approx([np.sqrt(-2 * np.log(1 - u1)) * np.cos(2 * np.pi * u2),
                                                         np.sqrt(-2 * np.log(1 - u1)) * np.sin(2 * np.pi * u2)])


def test_page_spec_holds_the_decoder_and_the_data_statistics(generators):
    spec = page_spec({"first": generators["cpu-long"], "reflowed": generators["cpu-long-reflow"]})
    codec = generators["cpu-long"].space.codec
    basis = np.zeros_like(codec.basis)
    for band, (start, weights) in enumerate(spec["decoder"]["bands"]):
        basis[band, start:start + len(weights)] = weights
    assert np.array_equal(basis, codec.basis)  # the filter bank, every non-zero weight kept
    assert spec["mean"] == generators["cpu-long"].space.mean.tolist() and spec["num_frames"] == 32
    assert spec["decoder"]["hop_length"] == codec.hop_length and spec["decoder"]["griffin_lim_iters"] == codec.griffin_lim_iters
    assert spec["labels_held"]["pitch"][0] == 40

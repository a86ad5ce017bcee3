"""Every chapter-facing function that takes a model runs it where its weights are (the Colab reader: GPU weights, CPU noise).

A Colab reader's model is on the GPU while ``torch.randn(...)`` and the data are on the CPU. Without a GPU we
put the model on the ``meta`` device (shapes, no values): a function that forgets to move its inputs fails with
"Tensor on device meta is not on the expected device cpu!". A function that moves them gets past every model
call; it may still fail at the very end, where it reads values (``.item()``, ``.cpu()``, NumPy), which a meta
tensor does not have: :func:`call_on_meta` accepts only that, and checks what the model was given.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from tutorial_lib.conditioning import Conditions  # noqa: E402
from tutorial_lib.flow import RectifiedFlow  # noqa: E402
from tutorial_lib.unet import PlainUNet, UNet, shape_table  # noqa: E402

META = torch.device("meta")
NO_VALUES = ("Cannot copy out of meta tensor", "cannot be called on meta tensors")  # reading a meta tensor


def on_meta(model: torch.nn.Module) -> tuple[torch.nn.Module, list[str]]:
    """``model`` moved to ``meta``, and the list that records the device of every tensor it is called with."""
    seen = []

    def record(module, args, kwargs):
        for value in [*args, *kwargs.values()]:
            if isinstance(value, torch.Tensor):
                seen.append(value.device.type)
            elif isinstance(value, Conditions):
                seen.extend(c.device.type for c in (value.pitch, value.source, value.velocity))

    model.to(META).register_forward_pre_hook(record, with_kwargs=True)
    return model, seen


def call_on_meta(call, seen: list[str]):
    """``call()``'s result, or None if it failed only where it reads the values of a meta tensor; either way
    the model must have been called, with meta tensors only."""
    seen.clear()
    try:
        result = call()
    except (RuntimeError, NotImplementedError) as error:
        if not any(reason in str(error) for reason in NO_VALUES):
            raise
        result = None
    assert seen, "the model was never called"
    assert set(seen) == {"meta"}, f"the model was given tensors on {sorted(set(seen))}"
    return result


def unet(conditioned=False):
    torch.manual_seed(0)
    return on_meta(UNet(channels=(8, 8), emb_dim=16, conditioned=conditioned))


def labels(batch):
    return Conditions.make(batch, pitch=60, source="acoustic", velocity=100)


# Chapter 3: the U-Nets and their shape table.

def test_unet_forward_moves_x_t_and_conditions_to_its_device():
    model = UNet(channels=(8, 8), emb_dim=16, conditioned=True).to(META)
    out = model(torch.randn(2, 64, 12), torch.rand(2), labels(2))
    assert out.device == META and out.shape == (2, 64, 12)
    plain_model = PlainUNet(channels=(8, 8, 8, 8, 8)).to(META)
    out = plain_model(torch.randn(2, 64, 32), torch.rand(2))
    assert out.device == META and out.shape == (2, 64, 32)


def test_shape_table_runs_a_model_on_its_device():
    model, seen = unet()
    rows = call_on_meta(lambda: shape_table(model, torch.randn(2, 64, 12), torch.rand(2)), seen)
    assert rows and rows[-1][1] == (2, 64, 12)


# Chapter 4: the flow's loss, with drawn or given noise, times and labels; the validation losses.

def test_flow_loss_moves_x_noise_times_and_labels_to_the_models_device():
    flow, x = RectifiedFlow(sigma_data=0.5), torch.randn(3, 64, 12)
    model, seen = unet(conditioned=True)
    drawn = call_on_meta(lambda: flow.loss(model, x, generator=torch.Generator().manual_seed(0)), seen)
    given = call_on_meta(lambda: flow.loss(model, x, t=torch.rand(3), noise=torch.randn(3, 64, 12),
                                           conditions=labels(3), reduction="none"), seen)
    assert drawn.device == META and drawn.shape == ()
    assert given.device == META and given.shape == (3,)


def test_validation_loss_and_loss_by_time_run_on_the_models_device():
    from tutorial_lib.training import loss_by_time, validation_loss

    flow, x = RectifiedFlow(), torch.randn(3, 64, 12)
    model, seen = unet(conditioned=True)
    call_on_meta(lambda: validation_loss(model, flow, x, conditions=labels(3)), seen)
    model, seen = unet()
    call_on_meta(lambda: loss_by_time(model, flow, x, torch.tensor([0.2, 0.8])), seen)


# Chapter 5 and 6: the samplers, guidance, inversion.

@pytest.mark.parametrize("solver", ["euler", "heun", "midpoint"])
def test_sample_from_cpu_noise_runs_the_model_on_its_device(solver):
    from tutorial_lib.sampling import sample

    model, seen = unet()
    call_on_meta(lambda: sample(model, torch.randn(2, 64, 12), num_steps=2, solver=solver, return_trajectory=True),
                 seen)
    out = sample(model, torch.randn(2, 64, 12, device=META), num_steps=2, solver=solver, return_trajectory=True)
    assert out.samples.device == META and out.samples.shape == (2, 64, 12)  # results on the noise's device
    assert out.trajectory.shape == (3, 2, 64, 12)


@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_guided_sampling_moves_cpu_labels_and_noise_to_the_models_device(guidance):
    from tutorial_lib.sampling import guided, sample

    model, seen = unet(conditioned=True)
    call_on_meta(lambda: sample(model, torch.randn(2, 64, 12), num_steps=2, conditions=labels(2),
                                guidance=guidance), seen)
    f = guided(model, labels(2), guidance)
    velocity = f(torch.randn(2, 64, 12, device=META), torch.full((2,), 0.5, device=META))
    assert velocity.device == META and velocity.shape == (2, 64, 12)


def test_invert_runs_the_model_on_its_device():
    from tutorial_lib.sampling import invert

    model, seen = unet(conditioned=True)
    call_on_meta(lambda: invert(model, torch.randn(2, 64, 12), num_steps=2, conditions=labels(2), guidance=2.0), seen)
    z = invert(model, torch.randn(2, 64, 12, device=META), num_steps=2, conditions=labels(2))
    assert z.device == META and z.shape == (2, 64, 12)


def test_generate_draws_on_the_models_device_and_leaves_the_samples_there():
    from tutorial_lib.sampling import sample_seeded

    model, seen = unet(conditioned=True)
    out = call_on_meta(lambda: sample_seeded(model, 2, 12, num_steps=2, conditions=labels(2), guidance=2.0), seen)
    assert out.samples.device == META and out.samples.shape == (2, 64, 12)


def small_generator():
    from tutorial_lib.codec import MelCodec
    from tutorial_lib.generation import LatentSpace, NoteGenerator

    model, seen = unet(conditioned=True)
    space = LatentSpace(MelCodec(), torch.zeros(64, 1), torch.ones(64, 1), num_frames=12)
    return NoteGenerator(model, RectifiedFlow(), space), seen


def test_note_generator_and_widgets_run_the_model_on_its_device():
    from tutorial_lib.book.widgets import generate_audio, note_grid

    generator, seen = small_generator()
    call_on_meta(lambda: generator.generate(2, seed=1, pitch=60, guidance=2.0, num_steps=2), seen)
    call_on_meta(lambda: generate_audio(generator, seed=1, num_steps=2), seen)
    call_on_meta(lambda: note_grid(generator, pitches=(48,), sources=("acoustic",), num_steps=2), seen)


# The interlude "A flow you can see": the toy model, its error and its arrows.

def test_toy_flow_functions_run_the_model_on_its_device():
    from tutorial_lib import toy_flow as tf

    data = tf.GaussianMixture(num_modes=4)
    model, seen = on_meta(tf.VelocityMLP(hidden=8))
    out = model(torch.randn(5, 2), torch.rand(5))
    assert out.device == META and out.shape == (5, 2)
    call_on_meta(lambda: tf.field_error(model, data, t=0.5, n=10), seen)
    fig, ax = plt.subplots()
    try:
        call_on_meta(lambda: tf.plot_field(ax, model, t=0.5, n=3), seen)
    finally:
        plt.close(fig)


# Chapter 5: the evaluation classifier trains where it is told (the GPU when there is one) and predicts there.

def small_training_set():
    x = torch.randn(12, 64, 8, generator=torch.Generator().manual_seed(0))
    return dict(train_latents=x, train_pitch=np.array([40, 52, 64] * 4), train_source=np.array([0, 1, 2, -1] * 3))


def test_eval_classifier_trains_on_the_device_it_is_given_and_by_default_on_pick_devices(monkeypatch):
    from tutorial_lib.evaluation import classifier as ec

    config = ec.ClassifierConfig(epochs=1, width=8, embed_dim=4, batch_size=8)
    classifier = ec.train_classifier(**small_training_set(), config=config, device="meta")
    assert {p.device.type for p in classifier.model.parameters()} == {"meta"}
    asked = []
    monkeypatch.setattr(ec, "pick_device", lambda device: asked.append(device) or META)
    classifier = ec.train_classifier(**small_training_set(), config=config)
    assert asked == ["auto"] and next(classifier.model.parameters()).device == META


def test_eval_classifier_predicts_on_its_device_and_caches_cpu_weights(tmp_path):
    from tutorial_lib.evaluation import classifier as ec

    config = ec.ClassifierConfig(epochs=1, width=8, embed_dim=4, batch_size=8)
    data = small_training_set()
    trained = ec.load_or_train_classifier(cache_key="t", **data, config=config, cache_dir=tmp_path, verbose=False,
                                          device="cpu")
    saved = torch.load(next(tmp_path.glob("t-*.pt")), weights_only=False)
    assert {v.device.type for v in saved["state_dict"].values()} == {"cpu"}
    again = ec.load_or_train_classifier(cache_key="t", **data, config=config, cache_dir=tmp_path, verbose=False,
                                        device="meta")  # from the cache, onto the device asked for
    assert next(again.model.parameters()).device == META
    model, seen = on_meta(trained.model)
    call_on_meta(lambda: trained.predict(data["train_latents"], batch_size=5), seen)

"""Two processes (gloo, CPU) against one: the same training and the same latent cache.

One spawn of two ranks does all the two-process work (starting processes is the slow part); the tests
then compare what it wrote with one process doing the same.
"""

import os
from dataclasses import asdict
import socket

import pytest
import torch
import torch.multiprocessing as mp

from tutorial_lib.checkpoints import load_checkpoint
from tutorial_lib.codec import MelCodec
from tutorial_lib.conditioning import Conditions
from tutorial_lib.data import encode_notes, list_notes
from tutorial_lib.runtime.distributed import World, my_share
from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.training import TrainConfig, train
from tutorial_lib.unet import UNet

# Adam divides by the gradient's size: a gradient near 0 turns float noise into up to 1e-5 of weight.
CONFIG = {"batch_size": 8, "lr": 1e-3, "eval_every": 2, "checkpoint_every": 100, "device": "cpu"}


def data():
    g = torch.Generator().manual_seed(0)
    latents = torch.randn(4, 64, 1, generator=g).repeat(6, 1, 16) + 0.1 * torch.randn(24, 64, 16, generator=g)
    labels = Conditions(pitch=torch.arange(24) % 12 + 40, source=torch.arange(24) % 3, velocity=torch.full((24,), 75))
    return latents, labels


def model(conditioned=False):
    torch.manual_seed(0)
    return UNet(channels=(16, 32), conditioned=conditioned)


def two_ranks(rank, port, folder, notes_root):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE="2", OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    from tutorial_lib.runtime.distributed import leave, world

    assert world() == World(rank, 2, rank)
    latents, labels = data()
    stopped = train(model(), RectifiedFlow(), latents, latents[:6], TrainConfig(steps=4, **CONFIG),
                    checkpoint_path=f"{folder}/two.pt", progress=False)
    # an odd batch: shares of 4 and 3, labels dropped as one process would
    conditioned = train(model(True), RectifiedFlow(), latents, None,
                        TrainConfig(steps=3, **{**CONFIG, "batch_size": 7}), progress=False, train_conditions=labels)
    # Ctrl-C before step 3 on both ranks (a terminal sends it to every process): rank 0 saves 3 steps.
    from tutorial_lib import training

    def interrupted(config, step):
        if step == 3:
            raise KeyboardInterrupt
        return config.lr  # the constant schedule these tests use

    training.learning_rate = interrupted
    try:
        train(model(), RectifiedFlow(), latents, latents[:6], TrainConfig(steps=7, **CONFIG),
              checkpoint_path=f"{folder}/interrupted.pt", progress=False)
    except KeyboardInterrupt:
        pass
    notes = list_notes(notes_root, "train").notes
    first = encode_notes(notes, MelCodec(), f"{folder}/cache", progress=False, save_every=2)
    second = encode_notes(notes, MelCodec(), f"{folder}/cache", progress=False)
    torch.save({"stopped": asdict(stopped.history), "conditioned": conditioned.model.state_dict(),
                "reports": [(r.encoded, r.cached) for r in (first[2], second[2])], "latents": first[0]},
               f"{folder}/rank{rank}.pt")
    leave()


@pytest.fixture(scope="module")
def ran(tmp_path_factory, tiny_nsynth):
    folder = tmp_path_factory.mktemp("two_ranks")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(two_ranks, args=(port, str(folder), str(tiny_nsynth)), nprocs=2, join=True)
    return folder, [torch.load(folder / f"rank{r}.pt") for r in range(2)]


def test_shares_cover_the_batch_once():
    batch = torch.arange(7)
    assert torch.equal(torch.cat([my_share(batch, r, 2) for r in range(2)]), batch)
    with pytest.raises(ValueError, match="batch_size"):
        my_share(torch.arange(1), 0, 2)


def test_two_ranks_train_like_one_process_and_resume_on_one(ran, tmp_path):
    folder, results = ran
    latents, _ = data()
    one = train(model(), RectifiedFlow(), latents, latents[:6], TrainConfig(steps=4, **CONFIG), progress=False)
    for rank in results:  # every rank holds the same history: rank 0's validation reaches them all
        assert rank["stopped"]["train_loss"] == pytest.approx(one.history.train_loss, rel=1e-4)
        assert rank["stopped"]["valid_loss"] == pytest.approx(one.history.valid_loss, rel=1e-4)
    two, two_ema, state = load_checkpoint(folder / "two.pt")
    assert state["step"] == 4
    pairs = [*zip(two.parameters(), one.model.parameters()), *zip(two_ema.parameters(), one.ema_model.parameters())]
    gap = max((a - b).abs().max().item() for a, b in pairs)
    assert gap < 1e-4  # float rounding: the ranks sum in another order (5.3e-5 measured here)
    changed = max((a - b).abs().max().item() for a, b in zip(two.parameters(), model().parameters()))
    assert changed > 1e-3  # the comparison above would notice a model that did not train

    # The checkpoint of two ranks resumes in one process and goes on as one straight run would.
    path = tmp_path / "resumed.pt"
    path.write_bytes((folder / "two.pt").read_bytes())
    resumed = train(model(), RectifiedFlow(), latents, latents[:6], TrainConfig(steps=7, **CONFIG),
                    checkpoint_path=path, progress=False)
    straight = train(model(), RectifiedFlow(), latents, latents[:6], TrainConfig(steps=7, **CONFIG), progress=False)
    assert resumed.history.train_loss == pytest.approx(straight.history.train_loss, rel=1e-4)
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.allclose(a, b, atol=1e-4)


def test_two_ranks_interrupted_save_and_resume_on_one(ran, tmp_path):
    folder, _ = ran
    latents, _ = data()
    assert torch.load(folder / "interrupted.pt")["step"] == 3
    path = tmp_path / "resumed.pt"
    path.write_bytes((folder / "interrupted.pt").read_bytes())
    resumed = train(model(), RectifiedFlow(), latents, latents[:6], TrainConfig(steps=7, **CONFIG),
                    checkpoint_path=path, progress=False)
    straight = train(model(), RectifiedFlow(), latents, latents[:6], TrainConfig(steps=7, **CONFIG), progress=False)
    assert resumed.history.train_steps == list(range(1, 8))
    assert resumed.history.train_loss == pytest.approx(straight.history.train_loss, rel=1e-4)
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.allclose(a, b, atol=1e-4)


def test_labels_dropped_and_odd_shares_as_in_one_process(ran):
    _, results = ran
    latents, labels = data()
    one = train(model(True), RectifiedFlow(), latents, None, TrainConfig(steps=3, **{**CONFIG, "batch_size": 7}),
                progress=False, train_conditions=labels).model.state_dict()
    for rank in results:
        assert all(torch.allclose(rank["conditioned"][k], one[k], atol=1e-4) for k in one)
    # Dropping the labels another way changes the weights beyond that tolerance.
    other = train(model(True), RectifiedFlow(), latents, None,
                  TrainConfig(steps=3, **{**CONFIG, "batch_size": 7, "label_dropout": 0.9}),
                  progress=False, train_conditions=labels).model.state_dict()
    assert not all(torch.allclose(other[k], one[k], atol=1e-4) for k in one)


def test_two_ranks_fill_the_same_cache_as_one_process(ran, tiny_nsynth, tmp_path):
    folder, results = ran
    notes = list_notes(tiny_nsynth, "train").notes
    serial, _, _ = encode_notes(notes, MelCodec(), tmp_path, progress=False, place=World())
    assert results[0]["reports"] == [(len(notes), 0), (0, len(notes))]  # a second run reads it all from the cache
    for rank in results:
        assert torch.equal(rank["latents"], serial)
    [shard] = (folder / "cache").rglob("*.pt")  # the ranks' part files were merged into one shard
    [serial_shard] = tmp_path.rglob("*.pt")
    parallel, one = torch.load(shard), torch.load(serial_shard)
    assert sorted(parallel["keys"]) == sorted(one["keys"])
    order = [parallel["keys"].index(k) for k in one["keys"]]
    assert torch.equal(parallel["latents"][order], one["latents"])


def test_a_rank_that_never_came_back_leaves_nothing_missing(tiny_nsynth, tmp_path):
    """Rank 0 of 2 alone (its partner lost): it encodes its half into a part file, the rest one by one,
    and merges everything into the shard, the same as one process makes."""
    notes = list_notes(tiny_nsynth, "train").notes
    alone, _, report = encode_notes(notes, MelCodec(), tmp_path / "alone", progress=False, place=World(0, 2))
    assert report.encoded == len(notes) and not list((tmp_path / "alone").rglob("*.part-*.pt"))
    serial, _, _ = encode_notes(notes, MelCodec(), tmp_path / "serial", progress=False)
    assert torch.equal(alone, serial)
    _, _, again = encode_notes(notes, MelCodec(), tmp_path / "alone", progress=False)
    assert (again.encoded, again.cached) == (0, len(notes))

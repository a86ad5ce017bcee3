import pytest
import torch

from tutorial_lib.conditioning import Conditions, ConditionEmbedding, drop_labels
from tutorial_lib.data import Note


def test_make_broadcasts_names_and_rejects_impossible_labels():
    c = Conditions.make(3, pitch=60, source="electronic")
    assert c.pitch.tolist() == [60] * 3 and c.source.tolist() == [1] * 3 and c.velocity.tolist() == [-1] * 3
    assert c.describe(0) == "pitch 60, electronic, velocity any"
    with pytest.raises(ValueError, match="pitch must lie in 0-127"):
        Conditions.make(1, pitch=130)
    with pytest.raises(ValueError, match="source must be one of"):
        Conditions.make(1, source="bass")
    with pytest.raises(ValueError, match="velocity must lie in 1-127"):
        Conditions.make(1, velocity=999)


def test_labels_come_from_notes():
    notes = [Note(path=None, name="n", instrument="guitar_synthetic_001", source="synthetic", pitch=50,
                  velocity=75, split="train"),
             Note(path=None, name="m", instrument="x", source="unknown", pitch=52, velocity=25, split="train")]
    c = Conditions.from_notes(notes)
    assert c.pitch.tolist() == [50, 52] and c.source.tolist() == [2, -1] and c.velocity.tolist() == [75, 25]
    assert c[1:].pitch.tolist() == [52] and len(Conditions.cat(c, c)) == 4


def test_label_dropout_rates():
    c = Conditions.make(20_000, pitch=60, source=0, velocity=100)
    dropped = drop_labels(c, p_all=0.2, p_each=0.1, generator=torch.Generator().manual_seed(0))
    all_hidden = ((dropped.pitch < 0) & (dropped.source < 0) & (dropped.velocity < 0)).float().mean().item()
    pitch_hidden = (dropped.pitch < 0).float().mean().item()
    assert abs(all_hidden - (0.2 + 0.8 * 0.1 ** 3)) < 0.01
    assert abs(pitch_hidden - (0.2 + 0.8 * 0.1)) < 0.01
    assert drop_labels(c, p_all=0.0, p_each=0.0).pitch.eq(60).all()


def test_embedding_is_smooth_in_pitch_and_uses_unknown_vectors():
    torch.manual_seed(0)
    emb = ConditionEmbedding(32)
    e = emb(Conditions.make(3, pitch=[60, 61, 90]))
    assert (e[0] - e[1]).norm() < (e[0] - e[2]).norm()
    with torch.no_grad():
        emb.unknown[0].fill_(5.0)
    assert torch.allclose(emb(Conditions.make(1))[0], emb.unknown.sum(0))

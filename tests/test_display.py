"""Tables for notebooks: a pipe table that Markdown renderers (Jupyter, the book's MyST) turn into a table."""

from tutorial_lib.book.display import markdown_table


def test_markdown_table_aligns_numbers_and_escapes_pipes():
    text = markdown_table(["layer", "parameters"], [("`downs.0`", 32896), ("a|b", 5)])
    assert text.splitlines() == ["| layer | parameters |", "| --- | ---: |",
                                 "| `downs.0` | 32,896 |", "| a\\|b | 5 |"]


def test_an_empty_table_has_its_header():
    assert markdown_table(["a", "b"], []).splitlines() == ["| a | b |", "| --- | --- |"]


def test_players_hold_mp3_a_fraction_of_wav_and_play_the_same_note():
    import base64
    import io

    import numpy as np
    import soundfile as sf

    from tutorial_lib.book.display import audio_data_uri
    from tutorial_lib.evaluation.note_measures import note_pitch

    rate = 16_000
    t = np.arange(4 * rate) / rate
    note = (0.2 * np.sin(2 * np.pi * 220 * t) * np.exp(-t)).astype(np.float32)
    uri = audio_data_uri(note, rate)
    assert uri.startswith("data:audio/mpeg;base64,")
    mp3 = base64.b64decode(uri.split(",", 1)[1])
    assert len(mp3) < 0.4 * 2 * len(note)  # a 16-bit WAV holds 2 bytes a sample
    heard, heard_rate = sf.read(io.BytesIO(mp3))
    assert heard_rate == rate and abs(len(heard) - len(note)) < 0.1 * rate
    assert np.max(np.abs(heard)) > 0.9  # peak-normalised
    assert abs(note_pitch(heard.astype(np.float32), rate) - note_pitch(note, rate)) < 0.1  # the same pitch

"""Encoding throughput: notes per second, cold (empty cache) and from the cache (offline, mel codec).

`python benchmarks/bench_data.py [--profile cpu]`
"""

import argparse
import tempfile
import time

from common import write
from tutorial_lib.codec import load_codec
from tutorial_lib.data import encode_notes, list_notes
from tutorial_lib.pipeline import resolve_data
from tutorial_lib.profiles import get_profile
from tutorial_lib.runtime.files import default_cache_dir

parser = argparse.ArgumentParser()
parser.add_argument("--profile", default="cpu")
args = parser.parse_args()
profile = get_profile(args.profile)
folder, source = resolve_data(profile, None, default_cache_dir(), progress=False)
codec = load_codec(profile.codec, verbose=False)
notes = list_notes(folder, "train").notes
with tempfile.TemporaryDirectory() as cache:
    start = time.perf_counter()
    encode_notes(notes, codec, cache, progress=False)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    _, _, report = encode_notes(notes, codec, cache, progress=False)
    warm = time.perf_counter() - start
assert report.cached == len(notes)
write(f"data_{args.profile}", {"data": source, "codec": codec.describe(), "notes": len(notes),
      "cold_seconds": cold, "cached_seconds": warm, "cold_notes_per_s": len(notes) / cold,
      "cached_notes_per_s": len(notes) / warm, "speedup": cold / warm},
      ["pass", "notes", "seconds", "notes/s"],
      [["cold (read, resample, encode, save)", len(notes), f"{cold:.2f}", f"{len(notes) / cold:.0f}"],
       ["cached", len(notes), f"{warm:.3f}", f"{len(notes) / warm:.0f}"]],
      notes=f"Cached pass {cold / warm:.0f}x faster than the cold one (target: at least 50x).")

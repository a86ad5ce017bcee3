"""How many CPU threads torch uses, chosen on purpose (used by the command line and ``pipeline.prepare``).

torch's default is one thread per core. On a busy machine that is a poor bet: on 2 shared cores, 100 training
steps took 26-202 s with torch's default of 2 threads and 7-9 s with one (measured on
the project's 2-core CI machines). So:

1. ``$TUTORIAL_LIB_THREADS`` if set, else ``$OMP_NUM_THREADS`` if set: your choice wins;
2. otherwise the cores this process may use minus the load already on them (the 1-minute load average),
   at least 1: an idle 8-core laptop gets 8 threads, a 2-core machine running other work gets 1.
"""

from __future__ import annotations

import os

import torch

_chosen: tuple[int, str] | None = None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def choose_threads() -> tuple[int, str]:
    """``(threads, why)`` by the rules above, without changing anything."""
    for variable in ("TUTORIAL_LIB_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(variable, "").strip()
        if value:
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"{variable}={value!r}: give a whole number of threads, 1 or more.")
            return int(value), f"from ${variable}"
    cores = _cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        load = 0.0
    threads = max(1, min(cores, int(cores - load + 0.5)))
    return threads, f"{cores} cores, load {load:.1f}; set TUTORIAL_LIB_THREADS to choose"


def use_cpu_threads(*, verbose: bool = True) -> int:
    """Sets torch's CPU thread count once per process (by :func:`choose_threads`) and says so; returns it."""
    global _chosen
    if _chosen is None:
        _chosen = choose_threads()
        torch.set_num_threads(_chosen[0])
        try:  # numpy's BLAS too (the mel decoder's matrix products), which would otherwise take every core
            from threadpoolctl import threadpool_limits

            threadpool_limits(_chosen[0], user_api="blas")
        except ImportError:
            pass
        if verbose:
            print(f"Using {_chosen[0]} CPU thread{'s' if _chosen[0] > 1 else ''} ({_chosen[1]}).")
    return _chosen[0]

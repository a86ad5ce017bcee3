import pytest

from tutorial_lib.runtime import threads


@pytest.fixture
def no_thread_variables(monkeypatch):
    monkeypatch.delenv("TUTORIAL_LIB_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    return monkeypatch


def test_your_setting_wins(no_thread_variables):
    no_thread_variables.setenv("OMP_NUM_THREADS", "2")
    assert threads.choose_threads() == (2, "from $OMP_NUM_THREADS")
    no_thread_variables.setenv("TUTORIAL_LIB_THREADS", "3")
    assert threads.choose_threads() == (3, "from $TUTORIAL_LIB_THREADS")
    no_thread_variables.setenv("TUTORIAL_LIB_THREADS", "0")
    with pytest.raises(ValueError, match="TUTORIAL_LIB_THREADS='0'.*1 or more"):
        threads.choose_threads()


@pytest.mark.parametrize("cores, load, expected", [(8, 0.0, 8), (8, 3.2, 5), (2, 1.6, 1), (2, 6.0, 1), (2, 0.3, 2)])
def test_otherwise_the_idle_cores(no_thread_variables, cores, load, expected):
    no_thread_variables.setattr(threads, "_cores", lambda: cores)
    no_thread_variables.setattr(threads.os, "getloadavg", lambda: (load, load, load))
    threads_chosen, why = threads.choose_threads()
    assert threads_chosen == expected and f"{cores} cores, load {load:.1f}" in why


def test_set_once_and_said_once(no_thread_variables, capsys):
    import torch

    from threadpoolctl import threadpool_info, threadpool_limits

    before = torch.get_num_threads()
    blas_before = {p["filepath"]: p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    no_thread_variables.setattr(threads, "_chosen", None)
    no_thread_variables.setenv("TUTORIAL_LIB_THREADS", "1")
    try:
        assert threads.use_cpu_threads() == 1 and threads.use_cpu_threads() == 1
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")  # numpy's too
        assert capsys.readouterr().out == "Using 1 CPU thread (from $TUTORIAL_LIB_THREADS).\n"
    finally:
        torch.set_num_threads(before)
        threadpool_limits(max(blas_before.values(), default=1), user_api="blas")

"""scripts/setup.sh and scripts/test.sh, run against a fake venv whose `python` logs what it is asked to do."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
[ "$1" = -c ] && exit 1   # every import check fails: setup.sh must install
[ "${FAKE_PIP_FAILS:-0}" = 1 ] && exit 1
case "$*" in *download.pytorch.org*) [ "${FAKE_CPU_INDEX_DOWN:-0}" = 1 ] && exit 1 ;; esac
exit 0
"""


@pytest.fixture
def fake_venv(tmp_path):
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path / "venv", tmp_path / "log"


def bash(script, venv, log, gpu=False, **env):
    environment = {**os.environ, "TUTORIAL_LIB_VENV": str(venv), "FAKE_LOG": str(log),
                   "TUTORIAL_LIB_NVIDIA_SMI": "true" if gpu else "false", **env}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=environment, timeout=60, check=False,
                          cwd=venv.parent)


def pip_installs(log):
    return [line for line in log.read_text().splitlines() if line.startswith("-m pip install") and "torch" in line]


def test_no_gpu_installs_the_cpu_build_and_says_its_size(fake_venv):
    venv, log = fake_venv
    done = bash(f"source {ROOT}/scripts/setup.sh", venv, log)
    assert done.returncode == 0, done.stderr
    (torch_install,) = pip_installs(log)
    assert f"torch==2.13.0 --index-url {CPU_INDEX}" in torch_install
    assert "CPU build" in done.stdout and "190 MB" in done.stdout


def test_unreachable_cpu_index_falls_back_to_the_plain_install(fake_venv):
    venv, log = fake_venv
    done = bash(f"source {ROOT}/scripts/setup.sh", venv, log, FAKE_CPU_INDEX_DOWN="1")
    assert done.returncode == 0, done.stderr
    first, second = pip_installs(log)
    assert CPU_INDEX in first and second == "-m pip install -q torch==2.13.0"
    assert "cannot be reached" in done.stdout


def test_with_a_gpu_the_normal_build_is_installed(fake_venv):
    venv, log = fake_venv
    done = bash(f"source {ROOT}/scripts/setup.sh", venv, log, gpu=True)
    assert done.returncode == 0, done.stderr
    assert pip_installs(log) == ["-m pip install -q torch==2.13.0"] and "CUDA" in done.stdout


@pytest.mark.parametrize("fails", ["0", "1"])
def test_sourcing_leaves_the_shell_options_and_directory_as_they_were(fake_venv, fails):
    venv, log = fake_venv
    script = (f"set -o > before; echo \"$-\" >> before; pwd >> before; source {ROOT}/scripts/setup.sh; "
              "echo status=$?; set -o > after; echo \"$-\" >> after; pwd >> after; echo still-here")
    done = bash(script, venv, log, FAKE_PIP_FAILS=fails)
    assert "still-here" in done.stdout  # a failed install does not close the reader's shell
    assert f"status={1 if fails == '1' else 0}" in done.stdout
    assert (venv.parent / "before").read_text() == (venv.parent / "after").read_text()
    if fails == "1":
        assert "installing failed" in done.stderr


def test_sourcing_puts_the_venv_on_path_once(fake_venv):
    venv, log = fake_venv
    done = bash(f"source {ROOT}/scripts/setup.sh; source {ROOT}/scripts/setup.sh; echo $PATH; echo $HF_HUB_OFFLINE",
                venv, log)
    path, offline = done.stdout.strip().splitlines()[-2:]
    assert path.split(":").count(f"{venv}/bin") == 1 and path.startswith(f"{venv}/bin:")
    assert offline == os.environ.get("HF_HUB_OFFLINE", "1")


def test_test_sh_never_installs_chromium_unasked(fake_venv, tmp_path):
    venv, log = fake_venv
    done = bash(f"bash {ROOT}/scripts/test.sh", venv, log, CHROMIUM=str(tmp_path / "no-chromium"))
    assert done.returncode == 1
    assert "install_browser.sh" in done.stderr and "--install-browser" in done.stderr
    assert not log.exists()  # it stopped before setting anything up or running a test


def test_install_browser_names_what_it_installs():
    text = (ROOT / "scripts" / "install_browser.sh").read_text()
    assert "apt-get install -s chromium" in text and "packages to install or upgrade" in text
    assert "bash scripts/install_browser.sh" in (ROOT / ".ci" / "run").read_text()


def test_one_default_cache_for_the_book_and_the_command_line(fake_venv, monkeypatch, tmp_path):
    from tutorial_lib.runtime.files import default_cache_dir

    venv, log = fake_venv
    done = bash(f"unset TUTORIAL_LIB_CACHE; source {ROOT}/scripts/setup.sh; echo \"cache=${{TUTORIAL_LIB_CACHE:-}}\"",
                venv, log)
    assert done.stdout.strip().endswith("cache=")  # the book's scripts leave the choice to default_cache_dir
    monkeypatch.delenv("TUTORIAL_LIB_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "tutorial_lib"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "tutorial_lib"
    monkeypatch.setenv("TUTORIAL_LIB_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"

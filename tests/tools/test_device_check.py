"""scripts/device-check without a GPU, the cheap part (a few seconds, in make test): its arguments, its time box
(a hung stage is stopped at its limit and reported; stages that the budget cannot fit are skipped, saying so),
and the start-up error of --device cuda where no GPU is. The stages themselves run with --device cpu in
tests/device_check (make test-device-check, ~30 s).

Run through ctest (label e2e), which sets PODSERVE_BINARY; the build's directory is the binary's.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/device-check"
BINARY = pathlib.Path(os.environ.get("PODSERVE_BINARY", ROOT / "build/release/podserve"))


def run(*args, env=None, timeout=600):
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("args, message", [
    (["--device", "tpu"], "--device must be cuda or cpu, got 'tpu'"),
    (["--stages", "a,z"], "unknown stage 'z'"),
    (["--jobs", "many"], "--jobs must be a number"),
    (["--budget", "soon"], "--budget must be a number of seconds"),
    (["--frobnicate"], "unknown argument '--frobnicate'"),
])
def test_bad_arguments_are_usage_errors(args, message):
    r = run(*args)
    assert r.returncode == 2
    assert message in r.stderr


def test_help_lists_the_stages():
    r = run("--help")
    assert r.returncode == 0
    for stage in ("build", "a ", "b ", "c ", "d ", "e ", "f ", "k "):
        assert stage in r.stdout


def summary_of(out):
    return {s["stage"]: s for s in json.loads((out / "device-check.json").read_text())["stages"]}


def test_a_hung_stage_is_stopped_at_its_limit_and_reported(tmp_path):
    """A stage that never ends (here: an interpreter that sleeps) is killed, process group and all, at its limit;
    the run goes on to the summary, which names it, and exits 1."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")
    fake.chmod(0o755)
    out = tmp_path / "out"
    env = dict(os.environ, DEVICE_CHECK_PYTHON=str(fake), DEVICE_CHECK_MAX_STAGE_SECONDS="2")
    r = run("--device", "cpu", "--stages", "e", "--build-dir", BINARY.parent, "--out", out, env=env, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    e = summary_of(out)["e"]
    assert e["status"] == "fail" and e["detail"] == "timed out after 2s"
    assert "FAILED: e" in r.stdout
    assert subprocess.run(["pgrep", "-f", "^sleep 600$"], capture_output=True).stdout == b""


def test_stages_past_the_budget_are_skipped_saying_so(tmp_path):
    env = dict(os.environ, DEVICE_CHECK_PYTHON=sys.executable)
    r = run("--device", "cpu", "--stages", "f,d,e", "--build-dir", BINARY.parent, "--out", tmp_path, "--budget", "5",
            env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    stages = summary_of(tmp_path)
    assert list(stages) == ["f", "d", "e"]
    for s in stages.values():
        assert s["status"] == "skip" and s["detail"].startswith("out of time"), s
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device-check.json", "device-check.log"]


def test_device_cuda_without_a_gpu_is_a_clear_start_up_error():
    """--device cuda where it cannot be had stops start-up with a message naming DEVICE and why, in a CUDA build
    (no device visible: the runtime's reason) as in one without CUDA; auto falls back to the CPU."""
    if subprocess.run(["sh", "-c", "nvidia-smi -L"], capture_output=True).returncode == 0:
        pytest.skip("a GPU is visible here")
    model = ROOT / "tests/data/tiny_models/smollm2/f32"
    r = subprocess.run([str(BINARY), "serve", "--model", str(model), "--device", "cuda", "--port", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "DEVICE=cuda (--device cuda)" in r.stderr
    assert "built without CUDA" in r.stderr or "no CUDA device is visible" in r.stderr
    b = subprocess.run([str(BINARY), "bench", "--model", str(model), "--device", "auto", "-p", "8", "-n", "2", "-r", "1"],
                       capture_output=True, text=True, timeout=120)
    assert b.returncode == 0, b.stderr
    assert "| CPU |" in b.stdout

"""scripts/device-check without a GPU: its arguments, and its stages run with --device cpu against this build (the
GPU-only stages skip and say why), ending in the JSON summary a GPU run writes. Stage d drives `podserve serve`
with the official openai client here too: 64 concurrent streams, batch invariance by vLLM's top-5 rule, an abort
storm that leaves no request running and no KV block in use.

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
    (["--frobnicate"], "unknown argument '--frobnicate'"),
])
def test_bad_arguments_are_usage_errors(args, message):
    r = run(*args)
    assert r.returncode == 2
    assert message in r.stderr


def test_help_lists_the_stages():
    r = run("--help")
    assert r.returncode == 0
    for stage in ("build", "a ", "b ", "c ", "d ", "e "):
        assert stage in r.stdout


def test_cpu_run_of_the_stages_writes_the_summary(tmp_path):
    env = dict(os.environ, DEVICE_CHECK_PYTHON=sys.executable)
    r = run("--device", "cpu", "--stages", "a,b,c,d,e", "--build-dir", BINARY.parent, "--out", tmp_path, env=env)
    log = (tmp_path / "device-check.log").read_text()
    assert r.returncode == 0, log[-4000:]
    summary = json.loads((tmp_path / "device-check.json").read_text())
    status = {s["stage"]: s for s in summary["stages"]}
    assert [s for s in status] == ["a", "b", "c", "d", "e"]
    for gpu_only in ("a", "b", "c"):
        assert status[gpu_only]["status"] == "skip" and "GPU" in status[gpu_only]["detail"]
    assert status["d"]["status"] == "pass", log[-4000:]
    serve = summary["serve"]
    assert serve["streams_finished"] == serve["streams"] == 64
    assert serve["invariance_close"] == serve["invariance_prompts"] == 8
    assert serve["after_abort_running"] == 0 and serve["after_abort_kv_usage"] == 0
    assert serve["failures"] == []
    assert status["e"]["status"] == "pass", log[-4000:]
    bench = summary["bench"]
    tests = {t["test"] for t in bench["podserve"]["tests"]}
    assert {"pp64", "tg8"} <= tests
    assert "device-check summary" in r.stdout and "no stage failed" in r.stdout


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

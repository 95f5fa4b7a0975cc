"""scripts/device-check's stages run with --device cpu against this build (the GPU-only stages skip and say why),
ending in the JSON summary a GPU run writes: stage f serves the same greedy requests twice and compares them
(here the CPU with itself), stage d drives `podserve serve` with the official openai client (64 concurrent
streams, batch invariance by vLLM's top-5 rule, an abort storm that leaves no request running and no KV block in
use), stage e runs `podserve bench` on a dummy model. About 30 s on 2 cores, so not in make test: ctest label
device-check (make test-device-check). tests/tools/test_device_check.py holds the cheap part.
"""
import json
import os
import pathlib
import subprocess
import sys


ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/device-check"
BINARY = pathlib.Path(os.environ.get("PODSERVE_BINARY", ROOT / "build/release/podserve"))


def run(*args, env=None, timeout=600):
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def test_cpu_run_of_the_stages_writes_the_summary(tmp_path):
    env = dict(os.environ, DEVICE_CHECK_PYTHON=sys.executable)
    r = run("--device", "cpu", "--stages", "a,b,c,f,d,e,k", "--build-dir", BINARY.parent, "--out", tmp_path, env=env)
    log = (tmp_path / "device-check.log").read_text()
    assert r.returncode == 0, log[-4000:]
    summary = json.loads((tmp_path / "device-check.json").read_text())
    status = {s["stage"]: s for s in summary["stages"]}
    assert [s for s in status] == ["a", "b", "c", "f", "d", "e", "k"]
    for gpu_only in ("a", "b", "c", "k"):
        assert status[gpu_only]["status"] == "skip" and "GPU" in status[gpu_only]["detail"]
    assert status["f"]["status"] == "pass", log[-4000:]
    compare = summary["compare"]
    assert compare["failures"] == []
    assert compare["models"]["smollm2-f32"] == compare["models"]["smollm2-bf16"] == {
        "identical": 8, "close": 8, "prompts": 8}
    assert compare["models"]["dummy-config"]["max_top_logprob_diff"] == 0
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
    # What the device tool brings back: at most 8 files, no folders.
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["compare-server.log", "device-check.json", "device-check.log", "serve-server.log"], files



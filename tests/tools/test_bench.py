"""`podserve bench` as a user drives it: bad flags get a clear error, and a tiny run on the tiny test models writes
the results in the peers' formats: llama-bench's markdown row and JSON test fields for pp/tg, and the
"Throughput: ..." line and --output-json fields of vLLM's `vllm bench throughput` (vllm/benchmarks/throughput.py).
Behaviour only: no timing is asserted beyond the figures being positive and consistent with each other.

Run through ctest (label e2e), which sets PODSERVE_BINARY and PODSERVE_TEST_DATA.
"""
import json
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("PODSERVE_BINARY", str(ROOT / "build/release/podserve"))
DATA = pathlib.Path(os.environ.get("PODSERVE_TEST_DATA", ROOT / "tests/data"))
TINY_GGUF = DATA / "tiny-llama.gguf"  # context length 512
TINY_DIR = DATA / "tiny_models/smollm2/f32"  # a whole HF directory, tokenizer included

# The keys vLLM's `vllm bench throughput --output-json` writes.
VLLM_THROUGHPUT_KEYS = {"elapsed_time", "num_requests", "total_num_tokens", "requests_per_second", "tokens_per_second"}
# The per-test keys of llama-bench's `-o json` that podserve fills.
LLAMA_BENCH_TEST_KEYS = {"n_prompt", "n_gen", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "samples_ns", "samples_ts"}
NUMBER = r"[0-9]+\.[0-9]{2}"


def bench(*args, timeout=300):
    return subprocess.run([BINARY, "bench", *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--model", TINY_GGUF, "--frobnicate", "1"], "unknown option '--frobnicate'"),
    (["--model", TINY_GGUF, "-p", "abc"], "--n-prompt must be an integer"),
    (["--model", TINY_GGUF, "-n", "0"], "--n-gen must be an integer in [1,"),
    (["--model", TINY_GGUF, "-r", "-3"], "--repetitions must be an integer"),
    (["--model", TINY_GGUF, "--num-prompts", "1e3"], "--num-prompts must be an integer"),
    (["--model", TINY_GGUF, "--mode", "pp,latency"],
     "--mode must be a comma-separated list of pp, tg, throughput, bandwidth"),
    (["--model", TINY_GGUF, "--mode", "bandwidth", "--large-mib", "-1"], "--large-mib must be an integer in [0,"),
    (["--model", TINY_GGUF, "-p"], "option '-p' needs a value"),
    (["-p", "8"], "--model PATH is required"),
    (["--model", TINY_GGUF, "-p", "513"], "does not fit the model's context length 512"),
    (["--model", TINY_GGUF, "--mode", "throughput", "--input-len", "500", "--output-len", "13"],
     "does not fit the model's context length 512"),
])
def test_bad_flags_are_usage_errors(args, message):
    r = bench(*args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert r.stdout == ""


def test_unloadable_model_names_the_path(tmp_path):
    missing = tmp_path / "nope.gguf"
    r = bench("--model", missing)
    assert r.returncode == 1
    assert f"cannot load model {missing}" in r.stderr


def test_bandwidth_of_an_unreadable_model_names_the_path(tmp_path):
    missing = tmp_path / "nope.gguf"
    r = bench("--model", missing, "--mode", "bandwidth", "--large-mib", 1)
    assert r.returncode == 1
    assert f"cannot read model {missing}" in r.stderr


def test_unwritable_output_json_fails_before_running(tmp_path):
    r = bench("--model", TINY_GGUF, "--output-json", tmp_path / "no/such/dir/out.json")
    assert r.returncode == 2
    assert "cannot write --output-json" in r.stderr


def test_help_lists_the_modes():
    r = bench("--help")
    assert r.returncode == 0
    assert "--mode" in r.stdout and "throughput" in r.stdout and "llama-bench" in r.stdout


def check_test(entry, name, n_prompt, n_gen, reps):
    assert LLAMA_BENCH_TEST_KEYS <= set(entry)
    assert (entry["test"], entry["n_prompt"], entry["n_gen"]) == (name, n_prompt, n_gen)
    assert len(entry["samples_ns"]) == len(entry["samples_ts"]) == reps
    tokens = n_prompt + n_gen
    for ns, ts in zip(entry["samples_ns"], entry["samples_ts"]):
        assert ns > 0 and ts == pytest.approx(tokens / (ns / 1e9), rel=1e-6)
    assert entry["avg_ts"] == pytest.approx(sum(entry["samples_ts"]) / reps, rel=1e-9)


@pytest.mark.parametrize("model", [TINY_GGUF, TINY_DIR], ids=["gguf", "hf-dir"])
def test_tiny_run_writes_every_field(tmp_path, model):
    out = tmp_path / "bench.json"
    dtype = ["--dtype", "bfloat16"] if model.is_dir() else []  # the bf16 path of a directory, as `make bench` runs
    r = bench("--model", model, *dtype, "--mode", "pp,tg,throughput", "-p", 24, "-n", 6, "-b", 16, "-r", 2, "-t", 1,
              "--num-prompts", 7, "--input-len", 9, "--output-len", 5, "--max-num-seqs", 3, "--output-json", out)
    assert r.returncode == 0, r.stderr
    # llama-bench's markdown table: one row per test.
    rows = [l for l in r.stdout.splitlines() if l.startswith("| ")]
    assert rows[0] == "| model | size | backend | threads | test | t/s |"
    assert re.fullmatch(rf"\| {re.escape(model.name)} \| {NUMBER} MiB \| CPU \| 1 \| pp24 \| {NUMBER} ± {NUMBER} \|",
                        rows[1]), rows[1]
    assert " tg6 " in rows[2]
    # vLLM's printout, word for word apart from the numbers.
    assert re.search(rf"^Throughput: {NUMBER} requests/s, {NUMBER} total tokens/s, {NUMBER} output tokens/s$",
                     r.stdout, re.M), r.stdout
    assert "Total num prompt tokens:  63\n" in r.stdout and "Total num output tokens:  35\n" in r.stdout
    assert "bench: pp24 rep 2/2" in r.stderr and "bench: throughput: 7/7 requests done" in r.stderr

    result = json.loads(out.read_text())
    assert result["n_threads"] == 1 and result["backend"] == "CPU" and result["model_type"] == "llama"
    assert result["model_size"] > 0
    check_test(result["tests"][0], "pp24", 24, 0, 2)
    check_test(result["tests"][1], "tg6", 0, 6, 2)
    tp = result["throughput"]
    assert VLLM_THROUGHPUT_KEYS <= set(tp)
    # ignore_eos + max_tokens: every request generates exactly --output-len tokens, as in vLLM's random dataset.
    assert (tp["num_requests"], tp["total_prompt_tokens"], tp["total_output_tokens"]) == (7, 63, 35)
    assert tp["total_num_tokens"] == 98
    assert tp["requests_per_second"] == pytest.approx(7 / tp["elapsed_time"], rel=1e-9)
    assert tp["tokens_per_second"] == pytest.approx(98 / tp["elapsed_time"], rel=1e-9)


def test_default_mode_is_pp_and_tg(tmp_path):
    out = tmp_path / "bench.json"
    r = bench("--model", TINY_GGUF, "-p", 8, "-n", 4, "-r", 1, "--output-json", out)
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert [t["test"] for t in result["tests"]] == ["pp8", "tg4"]
    assert "throughput" not in result and "Throughput:" not in r.stdout


def gguf_weight_bytes_per_token(path):
    """What a decode step reads, by gguf-py: every tensor once, the token embedding only when it is also the
    output matrix (tied); with a separate output.weight one embedding row is read, which is not counted."""
    import gguf
    tensors = gguf.GGUFReader(path).tensors
    names = {t.name for t in tensors}
    return sum(int(t.n_bytes) for t in tensors if not (t.name == "token_embd.weight" and "output.weight" in names))


def check_buffer(entry, nbytes, min_passes):
    assert entry["bytes"] == (nbytes + 4095) // 4096 * 4096  # whole pages
    assert entry["passes"] == len(entry["samples_ns"]) >= min_passes
    assert all(ns > 0 for ns in entry["samples_ns"])
    # best = the fastest pass, median = the middle pass (upper middle for an even count), in 1e9 bytes/s.
    ordered = sorted(entry["samples_ns"])
    assert entry["best_gbs"] == pytest.approx(entry["bytes"] / ordered[0], rel=1e-6)
    assert entry["median_gbs"] == pytest.approx(entry["bytes"] / ordered[len(ordered) // 2], rel=1e-6)


@pytest.mark.parametrize("model", [TINY_GGUF, TINY_DIR], ids=["gguf", "hf-dir"])
def test_bandwidth_mode_reads_the_weights_and_a_large_buffer(tmp_path, model):
    out = tmp_path / "bench.json"
    r = bench("--model", model, "--mode", "bandwidth", "-t", 2, "-r", 3, "--large-mib", 3, "--output-json", out)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ")]
    assert rows[0] == "| buffer | size | threads | loads | passes | best GB/s | median GB/s |"
    assert re.fullmatch(rf"\| weight bytes per token \| {NUMBER} MiB \| 2 \| (avx512|avx2|scalar) \| [0-9]+ \| "
                        rf"{NUMBER} \| {NUMBER} \|", rows[1]), rows[1]
    assert rows[2].startswith("| large (--large-mib) | 3.00 MiB | 2 | ")
    assert "pp" not in r.stdout and "Throughput:" not in r.stdout  # bandwidth alone runs nothing else

    result = json.loads(out.read_text())
    assert "tests" not in result and "throughput" not in result
    bw = result["bandwidth"]
    expected = (sum(p.stat().st_size for p in model.glob("*.safetensors")) if model.is_dir()
                else gguf_weight_bytes_per_token(model))
    assert bw["weight_bytes_per_token"] == expected
    assert bw["n_threads"] == 2 and bw["isa"] in ("avx512", "avx2", "scalar")
    llc = os.sysconf("SC_LEVEL3_CACHE_SIZE") if "SC_LEVEL3_CACHE_SIZE" in os.sysconf_names else 0
    if llc > 0 and (os.sysconf("SC_LEVEL4_CACHE_SIZE") or 0) <= 0:
        assert bw["llc_bytes"] == llc
    check_buffer(bw["weights"], expected, 3)
    check_buffer(bw["large"], 3 << 20, 3)
    assert bw["large"]["capped"] is False and bw["large"]["wanted_bytes"] == 3 << 20


def test_bandwidth_large_buffer_can_be_skipped_and_combined_with_pp(tmp_path):
    out = tmp_path / "bench.json"
    r = bench("--model", TINY_GGUF, "--mode", "pp,bandwidth", "-p", 8, "-r", 1, "-t", 1, "--large-mib", 0,
              "--output-json", out)
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert [t["test"] for t in result["tests"]] == ["pp8"]
    assert result["model_type"] == "llama"  # loaded for pp
    assert "large" not in result["bandwidth"] and result["bandwidth"]["n_threads"] == 1
    check_buffer(result["bandwidth"]["weights"], gguf_weight_bytes_per_token(TINY_GGUF), 1)


def safetensors_tensor_bytes(path):
    """The bytes of a .safetensors file's tensors, from its JSON header (the format's spec: 8-byte length + JSON)."""
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    return sum(t["data_offsets"][1] - t["data_offsets"][0] for k, t in header.items() if k != "__metadata__")


def test_dummy_weights_from_a_config_alone(tmp_path):
    """--load-format dummy: a folder with config.json and the tokenizer only; the size is what transformers' own
    checkpoint of that config holds (half of it in bfloat16)."""
    for f in ["config.json", "tokenizer.json", "tokenizer_config.json"]:
        (tmp_path / f).write_bytes((TINY_DIR / f).read_bytes())
    out = tmp_path / "bench.json"
    r = bench("--model", tmp_path, "--load-format", "dummy", "--dtype", "bfloat16", "-p", 8, "-n", 4, "-r", 1,
              "-t", 1, "--output-json", out)
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert [t["test"] for t in result["tests"]] == ["pp8", "tg4"]
    assert result["model_size"] == safetensors_tensor_bytes(TINY_DIR / "model.safetensors") // 2
    r = bench("--model", tmp_path, "--load-format", "tensorizer")
    assert r.returncode == 2 and "--load-format: vLLM's load format 'tensorizer' is not supported" in r.stderr

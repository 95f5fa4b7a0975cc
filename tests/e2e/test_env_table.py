"""Every variable of the RunPod vLLM worker is answered (issue 17, item 1).

- The reference's tables (`worker-vllm.md` §1.1, §1.1b, the G1/G2 mapping of §1.2/§1.3, and
  `surface-and-scale.md` §6) name the variables; `podserve env-table --json` (the code's table) must list each.
- README.md's table is the one `podserve env-table` prints (tools/readme_env_table.py writes it).
- The server started with every variable of the table set to a valid value serves, and logs exactly one warning
  naming each variable that has no effect here.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import httpx
import pytest
from podserve_testutil import free_port, require_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import readme_env_table  # noqa: E402


def reference_dir() -> pathlib.Path:
    return pathlib.Path(require_env("PODSERVE_FIXTURES")).parent / "reference"


def section(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i:text.index(end, i + len(start))]


TOKEN = re.compile(r"`([^`]+)`")
NAME = re.compile(r"[A-Z][A-Z0-9_]*\*?")
# Names in those sections that are not variables: the G1 defaults' dict and G2's list of removed flags.
NOT_VARIABLES = {"DEFAULT_ARGS", "REMOVED_FLAGS"}


def add_tokens(text: str, names: set[str]) -> None:
    """Every backticked upper-case name, also inside lists such as `HOST, PORT, API_KEY`."""
    for m in TOKEN.finditer(text):
        token = m.group(1)
        for part in re.split(r"[,\s]+", token):
            if NAME.fullmatch(part):
                names.add(part)
        if m := re.fullmatch(r"([A-Z_]+)\(([A-Z_]+)\)", token):  # TOKENIZER(_NAME)
            names.update({m.group(1), m.group(1) + m.group(2)})
        if m := re.fullmatch(r"([A-Z]+_)/([A-Z]+)(_[A-Z_]+)", token):  # TENSOR_/PIPELINE_PARALLEL_SIZE
            names.update({m.group(1) + m.group(3)[1:], m.group(2) + m.group(3)})


def reference_variables() -> set[str]:
    wv = (reference_dir() / "worker-vllm.md").read_text()
    ss = (reference_dir() / "surface-and-scale.md").read_text()
    names: set[str] = set()
    for sec in (section(wv, "### 1.1 ", "### 1.1b"), section(wv, "### 1.1b", "### 1.2")):
        for line in sec.splitlines():
            if line.startswith("| "):
                add_tokens(line.split("|")[1], names)  # the first column of each row
        for m in re.finditer(r"`([A-Z][A-Z0-9_]*)=", sec):  # `TOKENIZERS_PARALLELISM=false`, ...
            names.add(m.group(1))
    g1 = section(wv, "### 1.2", "### 1.3")
    defaults = re.search(r"`DEFAULT_ARGS`.*?:\s*`(.*?)`", g1, re.S).group(1)
    names.update(kv.split("=")[0].strip().upper() for kv in defaults.split(","))
    add_tokens(g1, names)
    add_tokens(section(wv, "### 1.3", "### 1.4"), names)
    add_tokens(section(ss, "## 6.", "## 7."), names)
    return names - NOT_VARIABLES


def table() -> list[dict]:
    out = subprocess.run([require_env("PODSERVE_BINARY"), "env-table", "--json"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def test_reference_parse_finds_the_tables():
    names = reference_variables()
    # A parse that silently found nothing would pass the next test: check a few from each table.
    for expected in ("MAX_CONCURRENCY", "RAW_OPENAI_OUTPUT", "GPU_MEMORY_UTILIZATION", "RAY_WORKERS_USE_NSIGHT",
                     "SWAP_SPACE", "TOKENIZER_POOL_*", "UVICORN_LOG_LEVEL", "ROPE_SCALING", "STREAM_INTERVAL",
                     "PIPELINE_PARALLEL_SIZE", "TOKENIZER", "SSL_*", "TRANSFORMERS_OFFLINE"):
        assert expected in names, expected
    assert len(names) > 230, len(names)


def test_every_reference_variable_is_in_the_table():
    rows = table()
    envs = [r["env"] for r in rows]
    assert len(envs) == len(set(envs)), "a variable is listed twice: " + str(
        sorted({e for e in envs if envs.count(e) > 1}))
    missing = []
    for name in sorted(reference_variables()):
        if name.endswith("*"):
            if not any(e == name or e.startswith(name[:-1]) for e in envs):
                missing.append(name)
        elif name not in envs:
            missing.append(name)
    assert not missing, f"variables of the reference that the code's table lacks: {missing}"


def test_readme_table_is_generated_from_the_code():
    _, in_readme, _ = readme_env_table.split_readme((ROOT / "README.md").read_text())
    generated = readme_env_table.generated(require_env("PODSERVE_BINARY"))
    assert in_readme == generated, "README.md's env table is stale: run tools/readme_env_table.py"


# Valid values for the implemented options (and the worker's and the Hub's own variables). An option added to the
# table needs a value here: the test says which.
def implemented_values(tmp: pathlib.Path, model: str, port: int) -> dict[str, str]:
    config = tmp / "vllm_config.yaml"
    config.write_text("max-num-seqs: 8\n")
    cache = str(tmp / "hf")
    return {
        "MODEL_NAME": model, "MODEL": model, "MODEL_REVISION": "main", "REVISION": "main", "GGUF_FILE": "",
        "TOKENIZER_NAME": model, "TOKENIZER": model, "TOKENIZER_REVISION": "main",
        "OPENAI_SERVED_MODEL_NAME_OVERRIDE": "env-model", "SERVED_MODEL_NAME": "env-model",
        "HOST": "127.0.0.1", "PORT": str(port), "MAX_MODEL_LEN": "1024", "MAX_NUM_SEQS": "8",
        "MAX_NUM_BATCHED_TOKENS": "512", "ENABLE_CHUNKED_PREFILL": "true", "ENABLE_PREFIX_CACHING": "true",
        "BLOCK_SIZE": "16", "KV_CACHE_MEMORY": "0.25", "VLLM_CPU_KVCACHE_SPACE": "0.25", "MAX_LOGPROBS": "5",
        "DISABLE_LOG_STATS": "true", "ENABLE_REQUEST_ID_HEADERS": "true", "SEED": "3", "DTYPE": "auto",
        "API_KEY": "key-one", "VLLM_API_KEY": "key-two", "OPENAI_RESPONSE_ROLE": "assistant",
        "RESPONSE_ROLE": "assistant",
        "CUSTOM_CHAT_TEMPLATE": "{% for m in messages %}{{ m['content'] }}\n{% endfor %}",
        "CHAT_TEMPLATE": "{% for m in messages %}{{ m['content'] }}\n{% endfor %}",
        "VLLM_LOGGING_LEVEL": "INFO", "PODSERVE_IO_THREADS": "2", "PODSERVE_THREADS": "1", "OMP_NUM_THREADS": "1",
        "PODSERVE_MAX_REQUEST_BYTES": "1048576", "PODSERVE_MAX_HEADER_BYTES": "65536",
        "PODSERVE_MAX_QUEUED_REQUESTS": "100", "PODSERVE_KEEPALIVE_TIMEOUT": "30", "PODSERVE_REQUEST_TIMEOUT": "30",
        "PODSERVE_SHUTDOWN_TIMEOUT": "5", "QUANTIZATION": "gguf", "GENERATION_CONFIG": "vllm",
        "OVERRIDE_GENERATION_CONFIG": '{"temperature": 0.5}', "RETURN_TOKENS_AS_TOKEN_IDS": "true",
        "ENABLE_PROMPT_TOKENS_DETAILS": "true", "ENABLE_FORCE_INCLUDE_USAGE": "true", "SCHEDULING_POLICY": "priority",
        "DOWNLOAD_DIR": cache, "VLLM_CONFIG_FILE": str(config), "VLLM_EXTRA_ARGS": "--seed 5",
        # Read by `podserve worker` and the Hub client.
        "MAX_CONCURRENCY": "4", "DEFAULT_BATCH_SIZE": "50", "MIN_BATCH_SIZE": "1", "DEFAULT_MIN_BATCH_SIZE": "1",
        "BATCH_SIZE_GROWTH_FACTOR": "3", "DEFAULT_BATCH_SIZE_GROWTH_FACTOR": "3", "RAW_OPENAI_OUTPUT": "1",
        "HF_TOKEN": "hf_not_a_token", "HF_HOME": cache, "HUGGINGFACE_HUB_CACHE": cache, "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1", "BASE_PATH": str(tmp),
        # Options other branches add (CUDA device settings, tools, structured outputs), once merged.
        "DEVICE": "cpu", "LOAD_FORMAT": "auto", "KV_CACHE_DTYPE": "auto", "GPU_MEMORY_UTILIZATION": "0.9",
        "KV_CACHE_MEMORY_BYTES": "268435456", "NUM_GPU_BLOCKS_OVERRIDE": "0", "ENFORCE_EAGER": "false",
        "CUDA_GRAPH_SIZES": "8", "COMPILATION_CONFIG": "{}", "MAX_SEQ_LEN_TO_CAPTURE": "0",
        "MAX_CONTEXT_LEN_TO_CAPTURE": "0", "ENABLE_AUTO_TOOL_CHOICE": "false", "TOOL_CALL_PARSER": "hermes",
        "REASONING_PARSER": "granite", "EXCLUDE_TOOLS_WHEN_TOOL_CHOICE_NONE": "false",
        "STRUCTURED_OUTPUTS_CONFIG": "{}", "GUIDED_DECODING_BACKEND": "auto", "DISABLE_PLAYGROUND": "true",
        # Per-request budgets.
        "PODSERVE_MAX_PROMPT_BYTES": "1048576", "PODSERVE_MAX_TEMPLATE_STEPS": "100000",
        "PODSERVE_MAX_TEMPLATE_MS": "1000", "PODSERVE_MAX_TOKENS_PER_REQUEST": "100000",
        "PODSERVE_MAX_STREAM_BACKLOG_BYTES": "1048576",
        # Speculative decoding: SPECULATIVE_CONFIG wins over the G1 worker's per-field variables.
        "SPECULATIVE_CONFIG": '{"method": "ngram", "num_speculative_tokens": 2}', "SPECULATIVE_METHOD": "ngram",
        "SPECULATIVE_MODEL": "ngram", "NUM_SPECULATIVE_TOKENS": "2", "NGRAM_PROMPT_LOOKUP_MAX": "4",
        "NGRAM_PROMPT_LOOKUP_MIN": "2", "SPECULATIVE_DRAFT_TENSOR_PARALLEL_SIZE": "1", "SPECULATIVE_MAX_MODEL_LEN": "0",
        "SPECULATIVE_QUANTIZATION": "", "SPECULATIVE_MODEL_REVISION": "main", "SPECULATIVE_ENFORCE_EAGER": "false",
        # LoRA (the GGUF llama model cannot take adapters: ENABLE_LORA=true stops its start-up, test_lora.py).
        "ENABLE_LORA": "false", "LORA_MODULES": "", "MAX_LORAS": "2", "MAX_LORA_RANK": "32", "MAX_CPU_LORAS": "4",
        "LORA_DTYPE": "auto", "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "false",
        "VLLM_LORA_RESOLVER_CACHE_DIR": str(tmp), "VLLM_PLUGINS": "lora_filesystem_resolver",
        "VLLM_LORA_RESOLVER_HF_REPO_LIST": "",
    }


def split(values: str) -> list[str]:
    return [v for v in values.split("|") if v]


def changing_value(row: dict) -> str:
    """A valid value other than the row's neutral ones: it must draw the warning."""
    neutral = {v.lower() for v in split(row["neutral"])}
    kind = row["kind"]
    if kind == "bool":
        candidates = ["true", "false"]
    elif kind == "int":
        candidates = ["7", "3"]
    elif kind == "number":
        candidates = ["2.5", "7"]
    elif kind == "json":
        candidates = ['{"podserve_test": 1}']
    elif kind == "choice":
        candidates = split(row["choices"])
    else:
        candidates = ["podserve-test-value"]
    return next(c for c in candidates if c.lower() not in neutral and str(float(c) if kind in ("int", "number")
                                                                          else c) not in neutral)


def test_every_variable_set_serves_and_warns_once_each(tmp_path):
    model = require_env("PODSERVE_TEST_MODEL")
    port = free_port()
    values = implemented_values(tmp_path, model, port)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    expected_warnings = []
    for row in table():
        name, status = row["env"], row["status"]
        if status in ("implemented", "worker", "hub"):
            assert name in values, f"test_env_table.py needs a valid value for {name}"
            env[name] = values[name]
        elif name.endswith("*"):
            member = name[:-1] + "PODSERVE_TEST"  # a member of the family nothing reads
            env[member] = "1"
            expected_warnings.append(f"{member} has no effect in podserve")
        elif status == "warn":
            value = changing_value(row)
            env[name] = value
            expected_warnings.append(f"{name}={value} has no effect in podserve: {row['why']}")
        else:
            assert status == "refuse", row
            neutral = split(row["neutral"])
            if neutral:
                env[name] = neutral[0]  # the value that is allowed
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([require_env("PODSERVE_BINARY"), "serve"], stdout=log, stderr=subprocess.STDOUT,
                                   env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, f"podserve exited {process.returncode}:\n{log_path.read_text()[-4000:]}"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        r = httpx.post(url + "/v1/completions", headers={"Authorization": "Bearer key-two"}, timeout=60,
                       json={"model": "env-model", "prompt": "Hello", "max_tokens": 3})
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["completion_tokens"] == 3
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log_path.read_text()
    for w in expected_warnings:
        assert text.count("] " + w) == 1, f"expected once: {w!r}\n{text[-3000:]}"


@pytest.mark.parametrize("env, message", [
    ({"TENSOR_PARALLEL_SIZE": "2"}, "TENSOR_PARALLEL_SIZE=2 is not supported by podserve"),
    ({"QUANTIZATION": "awq"}, "QUANTIZATION=awq is not supported by podserve"),
    ({"HF_OVERRIDES": '{"rope_theta": 1000}'}, "HF_OVERRIDES="),
    ({"SWAP_SPACE": "many"}, "Invalid value 'many' for SWAP_SPACE: expected a number"),
])
def test_refusals_stop_start_up(env, message):
    r = subprocess.run([require_env("PODSERVE_BINARY"), "serve"], capture_output=True, text=True, timeout=30,
                       env={"PATH": os.environ.get("PATH", "/usr/bin"), **env})
    assert r.returncode == 2
    assert message in r.stderr, r.stderr


def test_quantization_gguf_needs_a_gguf_model():
    model_dir = pathlib.Path(require_env("PODSERVE_TEST_DATA")) / "tiny_models" / "llama" / "f32"
    r = subprocess.run([require_env("PODSERVE_BINARY"), "serve", "--model", str(model_dir)],
                       capture_output=True, text=True, timeout=60,
                       env={"PATH": os.environ.get("PATH", "/usr/bin"), "QUANTIZATION": "gguf"})
    assert r.returncode == 1
    assert "QUANTIZATION=gguf, but the model" in r.stdout + r.stderr

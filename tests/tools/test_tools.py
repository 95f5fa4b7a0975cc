"""`podserve tokenize` and `podserve chat-template` against the references, driven as a user would.

tokenize: every fixture tokenizer directory (and its tokenizer.json alone) and the SmolLM2 GGUF, on the shared
tokenizer inputs, vs. HF `tokenizers` (encode with and without special tokens, decode with and without
skip_special_tokens). chat-template: the fixture templates and the tokenizer_config.json templates, with several
conversations, vs. jinja2 set up as transformers' apply_chat_template (tools/goldens/chat_templates.py).

Run through ctest (label e2e), which sets PODSERVE_BINARY, PODSERVE_TEST_MODEL and PODSERVE_FIXTURES.
"""
import datetime
import importlib.util
import json
import os
import pathlib
import subprocess

import pytest
from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("PODSERVE_BINARY", str(ROOT / "build/release/podserve"))
FIXTURES = pathlib.Path(os.environ.get("PODSERVE_FIXTURES", ROOT.parent / "shared/fixtures"))
MODEL = os.environ.get("PODSERVE_TEST_MODEL", str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMOLLM2 = load_module("smollm2_golden", ROOT / "tools/goldens/tokenizer.py")
TEMPLATES = load_module("chat_templates_golden", ROOT / "tools/goldens/chat_templates.py")
# The goldens freeze strftime_now's clock; the binary reads the real one (TZ=UTC below), so use it here too.
TEMPLATES.ENV.globals["strftime_now"] = lambda fmt: datetime.datetime.now(datetime.timezone.utc).strftime(fmt)


def texts():
    raw = (FIXTURES / "tokenizer_inputs.txt").read_bytes().decode("utf-8")
    cases = raw.split("__BEGIN__\n", 1)[1].split("\n__CASE__\n")[:-1]
    return cases + ["<|im_start|>user\nhi<|im_end|>", "<s>[INST] hi [/INST]", "<bos><start_of_turn>user\n",
                    "<|begin_of_text|><|eot_id|>", "  \u00a0x\U0001F600y  ", "日本語 한국어 العربية"]


def run_lines(args, lines):
    proc = subprocess.run([BINARY, *args], input="".join(json.dumps(l) + "\n" for l in lines),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(l) for l in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    return out


def tokenizer_cases():
    dirs = sorted(p for p in (FIXTURES / "tokenizers").iterdir() if p.is_dir())
    cases = [pytest.param(str(d), lambda d=d: Tokenizer.from_file(str(d / "tokenizer.json")), id=d.name) for d in dirs]
    cases.append(pytest.param(str(dirs[0] / "tokenizer.json"),
                              lambda d=dirs[0]: Tokenizer.from_file(str(d / "tokenizer.json")), id="json-file"))
    cases.append(pytest.param(MODEL, lambda: SMOLLM2.build_tokenizer(__import__("gguf").GGUFReader(MODEL)),
                              id="smollm2-gguf"))
    return cases


@pytest.mark.parametrize("path,reference", tokenizer_cases())
def test_tokenize_matches_hf(path, reference):
    hf = reference()
    inputs = texts()
    lines = [{"text": t} for t in inputs] + [{"text": t, "add_special_tokens": False} for t in inputs]
    got = run_lines(["tokenize", "--tokenizer", path], lines)
    want = [hf.encode(t, add_special_tokens=True).ids for t in inputs]
    want += [hf.encode(t, add_special_tokens=False).ids for t in inputs]
    for line, g, w in zip(lines, got, want):
        assert g == {"ids": w}, line

    decode_lines = [{"ids": w} for w in want] + [{"ids": w, "skip_special_tokens": True} for w in want]
    got = run_lines(["tokenize", "--tokenizer", path, "--decode"], decode_lines)
    for line, g in zip(decode_lines, got):
        assert g == {"text": hf.decode(line["ids"], skip_special_tokens=line.get("skip_special_tokens", False))}


def test_tokenize_bad_input_is_reported_per_line():
    proc = subprocess.run([BINARY, "tokenize", "--tokenizer", MODEL, "--decode"],
                          input='{"ids": [1, 2]}\nnot json\n{"ids": [-5]}\n{"text": "x"}\n',
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    out = [json.loads(l) for l in proc.stdout.splitlines()]
    assert len(out) == 4 and "text" in out[0]
    assert out[1]["error"].startswith("line 2") and "-5" in out[2]["error"] and "ids" in out[3]["error"]
    assert "line 2" in proc.stderr


def test_tokenize_unsupported_tokenizer_names_the_type(tmp_path):
    data = json.loads((FIXTURES / "tokenizers/llama2/tokenizer.json").read_text())
    data["model"]["type"] = "Unigram"
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    proc = subprocess.run([BINARY, "tokenize", "--tokenizer", str(tmp_path)], input="", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "unsupported model type 'Unigram'" in proc.stderr
    proc = subprocess.run([BINARY, "tokenize", "--tokenizer", str(tmp_path / "missing")], input="",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "tokenizer.json" in proc.stderr


def template_cases():
    cases = []
    for path in sorted((FIXTURES / "chat_templates").glob("*.jinja")):
        cases.append(pytest.param(str(path), path.read_text(encoding="utf-8"), {}, id=path.stem))
    for d in sorted(p for p in (FIXTURES / "tokenizers").iterdir() if p.is_dir()):
        config = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8"))
        if isinstance(config.get("chat_template"), str):
            tokens = {k: config[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token")
                      if isinstance(config.get(k), str)}
            cases.append(pytest.param(str(d), config["chat_template"], tokens, id=f"model-{d.name}"))
    return cases


CONVERSATIONS = {
    "system": dict(messages=TEMPLATES.SYSTEM_CHAT, add_generation_prompt=True),
    "no_system_no_prompt": dict(messages=TEMPLATES.PLAIN_CHAT, add_generation_prompt=False),
    "tools": dict(messages=TEMPLATES.TOOL_CHAT, tools=[TEMPLATES.WEATHER_TOOL], add_generation_prompt=True),
    "parallel_tools": dict(messages=TEMPLATES.PARALLEL_TOOL_CHAT,
                           tools=[TEMPLATES.WEATHER_TOOL, TEMPLATES.CALENDAR_TOOL], add_generation_prompt=False),
    "kwargs": dict(messages=TEMPLATES.REASONING_CHAT, add_generation_prompt=True, enable_thinking=False,
                   bos_token="<BOS>", eos_token="<EOS>"),
}


@pytest.mark.parametrize("conversation", list(CONVERSATIONS))
@pytest.mark.parametrize("template_path,source,model_tokens", template_cases())
def test_chat_template_matches_jinja2(tmp_path, template_path, source, model_tokens, conversation):
    inputs = dict(CONVERSATIONS[conversation])
    (tmp_path / "input.json").write_text(json.dumps(inputs), encoding="utf-8")
    context = {"tools": None, "documents": None, "bos_token": "", "eos_token": "", **model_tokens, **inputs}
    expected = TEMPLATES.render(source, context)
    proc = subprocess.run([BINARY, "chat-template", "--template", template_path, "--input",
                           str(tmp_path / "input.json")], capture_output=True, timeout=60,
                          env={**os.environ, "TZ": "UTC"})
    if "expected" in expected:
        assert proc.returncode == 0, proc.stderr.decode()
        assert proc.stdout.decode("utf-8") == expected["expected"]
    else:
        assert proc.returncode == 1 and proc.stdout == b""
        if expected["error_exact"]:
            assert proc.stderr.decode().strip() == "podserve chat-template: " + expected["expected_error"]


def test_chat_template_errors_are_clear(tmp_path):
    (tmp_path / "input.json").write_text(json.dumps({"messages": [{"role": "user", "content": "x"}]}))
    (tmp_path / "bad.jinja").write_text("line one\n{% for x in %}")
    proc = subprocess.run([BINARY, "chat-template", "--template", str(tmp_path / "bad.jinja"), "--input",
                           str(tmp_path / "input.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "line 2, column" in proc.stderr
    (tmp_path / "loop.jinja").write_text("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}"
                                         "{% endfor %}")
    proc = subprocess.run([BINARY, "chat-template", "--template", str(tmp_path / "loop.jinja"), "--input",
                           str(tmp_path / "input.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("podserve chat-template: ")
    (tmp_path / "input2.json").write_text(json.dumps({"messages": "not a list"}))
    proc = subprocess.run([BINARY, "chat-template", "--template", str(tmp_path / "bad.jinja"), "--input",
                           str(tmp_path / "input2.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "'messages' must be a list" in proc.stderr

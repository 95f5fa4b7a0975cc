"""src/structured/regex_to_ebnf.cpp against xgrammar 0.2.8's regex converter (Grammar.from_regex).

podserve's EBNF for each regex is compiled by xgrammar (Grammar.from_ebnf) and must accept the same strings
as xgrammar's own regex grammar: sample matches (checked with Python's re where its semantics agree),
mutations of them (every prefix live in both or neither) and random walks of each language. The JSON-schema
`pattern` mode (json_string) is compared the same way, through schemas {"type":"string","pattern":...}.
Regexes xgrammar rejects must be rejected too."""

import json
import random
import re

import pytest

from xgr import assert_same_language, compile_grammar, live_prefix, mutations, xgr

# (regex, strings it fully matches under Python's re as well)
REGEXES = [
    (r"[a-z]+@\d{2,3}", ["abc@12", "z@999"]),
    (r"\d{3}-\d{4}", ["555-1234"]),
    (r"^\+?[0-9]{1,3}-[0-9]{3}-[0-9]{4}$", ["+1-555-1234"]),
    (r"(?:yes|no|maybe)", ["yes", "maybe"]),
    (r"[A-Z][a-z]*( [A-Z][a-z]*)*", ["Hello World", "A"]),
    (r"\w+\s\w+", ["hi there", "a_1\tb"]),
    (r"[^\n]*", ["anything at all", ""]),
    (r".{2,5}", ["ab", "a\nb", "é中"]),
    (r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", ["-0.5e10", "12", "0"]),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
     ["123e4567-e89b-12d3-a456-426614174000"]),
    (r"(\d{1,3}\.){3}\d{1,3}", ["192.168.1.1"]),
    (r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", ["2024-02-29"]),
    (r"https?://[^\s/$.?#].[^\s]*", ["https://example.com/x?y=1", "http://a.b"]),
    (r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}", ["john.doe@example.com"]),
    (r"(a|b)*abb", ["abb", "aababb"]),
    (r"a*?b+?c??", ["b", "aabbc"]),
    (r"x{0}y{2,}z{1,2}", ["yyz", "yyyyzz"]),
    (r"\$\d+(\.\d\d)?", ["$10", "$3.99"]),
    (r"[\-\]\\^]+", ["-]\\^"]),
    (r"[^abc]{3}", ["xyz", "1 2"]),
    (r"\t\n\r\f\v\0", ["\t\n\r\f\v\0"]),
    (r"\x41\u00e9\u{1F600}", ["Aé😀"]),
    (r"[é-ü]+ü", ["éü", "üü"]),
    (r"(?<word>\w+)=(?<val>\d+)", ["key=12"]),
    (r"(a|)b", ["ab", "b"]),
    (r"((ab)+|c)?d", ["d", "ababd", "cd"]),
    (r"\.\*\+\?\(\)\[\]\{\}\|\\/", [".*+?()[]{}|\\/"]),
    (r"[\d\s]+", ["1 2\t3"]),
    (r"\D\W\S", ["a b"]),
    (r'"[^"]*"', ['"quoted"', '""']),
    (r"(true|false|null)", ["true", "null"]),
    (r"[a-z]{2}(_[A-Z]{2})?", ["en", "en_US"]),
    (r"\cA\e\a", ["\x01\x1b\x07"]),
    (r"ab$", ["ab"]),
    (r"<[a-z]+>[^<]*</[a-z]+>", ["<b>bold</b>"]),
]

# xgrammar rejects these (podserve must too); the comment says why.
REJECTED = [
    r"(a)\1",        # backreference
    r"\bword\b",     # word boundary
    r"a(?=b)",       # lookahead
    r"(?<!a)b",      # lookbehind
    r"\p{L}+",       # Unicode property
    r"(?i)abc",      # inline flags
    r"(?P<n>a)",     # Python-style named group
    r"a**",          # doubled quantifier
    r"a{2,3}+",      # possessive
    r"a{,3}",        # no lower bound
    r"a{3",          # unclosed count
    r"(ab",          # unclosed group
    r"ab)",          # unmatched parenthesis
    r"[]a]",         # empty class
    r"*a",           # nothing to repeat
    r"[z-a]",        # reversed range
    r"a{5,2}",       # reversed count
]


def _texts(samples, rng):
    texts = list(samples)
    for s in samples:
        texts += mutations(s, rng, 20, "a0 -.\n\"\\é")
    return texts + ["", " ", "a", "0"]


@pytest.mark.parametrize("regex,samples", REGEXES, ids=[r for r, _ in REGEXES])
def test_regex_same_language_as_xgrammar(driver, regex, samples):
    for s in samples:
        assert re.fullmatch(regex.strip("^$").replace(r"\u{1F600}", "\U0001F600").replace(r"\e", "\x1b")
                            .replace(r"\cA", "\x01").replace(r"\a", "\x07").replace("(?<", "(?P<"), s, re.S), (regex, s)
    ours = driver.regex(regex)
    assert "ebnf" in ours, ours
    rng = random.Random(regex)
    assert_same_language(compile_grammar(xgr.Grammar.from_ebnf(ours["ebnf"])),
                         compile_grammar(xgr.Grammar.from_regex(regex)), _texts(samples, rng), label=regex)


@pytest.mark.parametrize("regex", REJECTED)
def test_regex_rejected_like_xgrammar(driver, regex):
    with pytest.raises(Exception):
        xgr.Grammar.from_regex(regex)
    answer = driver.regex(regex)
    assert "error" in answer and answer["error"].startswith("Regex parsing error at position"), answer


# xgrammar 0.2.8's json_string regex path (JSON-schema `pattern` only, not Grammar.from_regex) also accepts
# the trailing repetition alone for an optional group that ends in `X+`/`X*`: for `x(yz+)?` it accepts "xz",
# for `0(\.[0-9]+)?` "05". Those strings violate the pattern (re.fullmatch rejects them) and so would fail
# JSON Schema validation; podserve keeps the pattern's language. test_pattern_optional_group_quirk pins it.
# A raw `"` inside a pattern makes JSON-invalid output in both; xgrammar then also lets `\` + any character
# through `[^"]*` (walks found `"\J..."`), which no JSON parser reads. Not compared in pattern mode.
PATTERN_QUIRK = {r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", r'"[^"]*"'}


@pytest.mark.parametrize("pattern,extra", [(r"x(yz+)?", "xz"), (r"0(\.[0-9]+)?", "05"), (r"(ab*)?c", "bbc"),
                                           (r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", "012")])
def test_pattern_optional_group_quirk(driver, pattern, extra):
    schema = {"type": "string", "pattern": pattern}
    text = json.dumps(extra)
    assert re.fullmatch(pattern, extra) is None
    theirs = compile_grammar(xgr.Grammar.from_json_schema(json.dumps(schema)))
    ours = compile_grammar(xgr.Grammar.from_ebnf(driver.schema(schema)["ebnf"]))
    assert live_prefix(theirs, text) == (len(text), True)  # xgrammar accepts the non-match
    assert live_prefix(ours, text)[1] is False              # podserve does not


@pytest.mark.parametrize("regex,samples", [c for c in REGEXES if c[0] not in PATTERN_QUIRK],
                         ids=[r for r, _ in REGEXES if r not in PATTERN_QUIRK])
def test_pattern_same_language_as_xgrammar(driver, regex, samples):
    """JSON-schema `pattern` (xgrammar's json_string regex mode: classes never match `"`, `\\` or controls)."""
    schema = {"type": "string", "pattern": regex}
    ours = driver.schema(schema)
    theirs = xgr.Grammar.from_json_schema(json.dumps(schema))
    if "error" in ours:  # a class that keeps nothing inside a JSON string; xgrammar must fail on it too
        with pytest.raises(Exception):
            xgr.testing._get_matcher_from_grammar(theirs)
        return
    rng = random.Random(regex)
    texts = _texts(['"' + s + '"' for s in samples] + [json.dumps(s) for s in samples], rng)
    assert_same_language(compile_grammar(xgr.Grammar.from_ebnf(ours["ebnf"])), compile_grammar(theirs), texts,
                         label="pattern " + regex)


# JSON-schema patterns xgrammar compiles with its lenient engine (all-ASCII patterns): look-aheads dropped,
# a leading (?i), (?P<name>...), doubled quantifiers; \s without U+00A0 there, with it for non-ASCII patterns.
LENIENT_PATTERNS = [
    (r"^(?=.*[A-Z])(?!x).{3,}$", ["aBc", "abc", "xyz"]),
    (r"(?i)[a-c]x[^d]", ["BxA", "axe"]),
    (r"(?i)hello world", ["HeLLo World"]),
    (r"(?P<n>a)b", ["ab"]),
    (r"a{2}{3}b?*", ["aaaaaa", "aaaaaabb"]),
    (r"\s\S", [" \u00a0", " x"]),
]

PATTERN_REJECTED = [r"\bx", r"(a)\1", r"\p{L}", r"a(?i)b", r"(?<=a)b", r"é(?=b)", r"(?P<n>é)", r"é**", r"(?i)é"]


@pytest.mark.parametrize("pattern,samples", LENIENT_PATTERNS, ids=[p for p, _ in LENIENT_PATTERNS])
def test_lenient_pattern_same_language_as_xgrammar(driver, pattern, samples):
    schema = {"type": "string", "pattern": pattern}
    ours = driver.schema(schema)
    assert "ebnf" in ours, ours
    rng = random.Random(pattern)
    texts = _texts([json.dumps(s, ensure_ascii=False) for s in samples], rng)
    assert_same_language(compile_grammar(xgr.Grammar.from_ebnf(ours["ebnf"])),
                         compile_grammar(xgr.Grammar.from_json_schema(json.dumps(schema))), texts,
                         label="pattern " + pattern)


@pytest.mark.parametrize("pattern", PATTERN_REJECTED)
def test_pattern_rejected_like_xgrammar(driver, pattern):
    schema = {"type": "string", "pattern": pattern}
    with pytest.raises(Exception):
        xgr.testing._get_matcher_from_grammar(xgr.Grammar.from_json_schema(json.dumps(schema)))
    answer = driver.schema(schema)
    assert answer.get("error", "").startswith("Failed to transform json schema into a grammar: Invalid pattern: "), answer


def test_non_ascii_pattern_stays_inside_the_string(driver):
    """A pattern with a non-ASCII character goes through xgrammar's plain regex converter, whose classes then
    also match a raw `"`, `\\` or control character: for `é.` it accepts "é" + a raw newline, which is not
    JSON (json.loads fails). podserve keeps every pattern's classes inside the JSON string; both agree
    elsewhere (\\s there includes U+00A0)."""
    schema = {"type": "string", "pattern": "é\\s."}
    theirs = compile_grammar(xgr.Grammar.from_json_schema(json.dumps(schema)))
    ours = compile_grammar(xgr.Grammar.from_ebnf(driver.schema(schema)["ebnf"]))
    for raw in ['"é \n"', '"é\n\""']:
        with pytest.raises(json.JSONDecodeError):
            json.loads(raw)
        assert live_prefix(theirs, raw) == (len(raw), True)
        assert live_prefix(ours, raw)[1] is False
    for ok in ['"é\u00a0x"', '"é é"']:
        assert live_prefix(ours, ok) == (len(ok), True) == live_prefix(theirs, ok)

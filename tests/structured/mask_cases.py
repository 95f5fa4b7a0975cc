"""Grammars and strings for test_masks_vs_xgrammar.py: JSON schemas (real tool/function shapes, nesting,
enums, refs, formats, ranges, patterns), regexes (JSON-schema patterns and typical structured_outputs.regex
uses), EBNF grammars (xgrammar's dialect, recursion, classes, repetition ranges) and choice lists. Each comes
with valid and invalid strings; which is which is xgrammar's call, not these lists'."""

JSON_SCHEMAS = [
    ({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
      "required": ["name", "age"]},
     ['{"name": "Ada", "age": 36}', '{"name":"x","age":-0}', '{"age": 3}', '{ "name" : "caf\\u00e9 \\"q\\"", "age": 12 }']),
    ({"type": "object", "properties": {"location": {"type": "string"},
                                       "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
      "required": ["location"]},
     ['{"location": "Paris, France", "unit": "celsius"}', '{"location": "Oslo"}', '{"location": "a", "unit": "kelvin"}']),
    ({"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 4},
     ["[1, 2.5, -3e10]", "[]", "[1,2,3,4,5]", "[0.0]"]),
    ({"type": "boolean"}, ["true", "false", "True"]),
    ({"type": "null"}, ["null", "nil"]),
    ({"type": "string", "minLength": 2, "maxLength": 5}, ['"ab"', '"a"', '"abcdef"', '"\u00e9\u00e9\u00e9"']),
    ({"type": "string", "pattern": "^[A-Z]{3}-\\d{2}$"}, ['"ABC-12"', '"AB-12"', '"ABC-123"']),
    ({"type": "string", "format": "date"}, ['"2024-02-29"', '"2024-13-01"', '"24-01-01"']),
    ({"type": "string", "format": "date-time"}, ['"2024-02-29T12:30:00Z"', '"2024-02-29 12:30"']),
    ({"type": "string", "format": "uuid"}, ['"123e4567-e89b-12d3-a456-426614174000"', '"123e4567"']),
    ({"type": "string", "format": "email"}, ['"a.b@example.com"', '"not an email"']),
    ({"type": "string", "format": "ipv4"}, ['"192.168.0.1"', '"256.1.1.1"']),
    ({"type": "integer", "minimum": 1, "maximum": 5}, ["3", "0", "6", "1"]),
    ({"type": "integer", "minimum": -20, "exclusiveMaximum": 300}, ["-20", "299", "300", "-21", "42"]),
    ({"type": "number", "minimum": 0.5, "maximum": 10}, ["0.5", "10", "10.5", "3.25", "0.4"]),
    ({"enum": ["red", "green", 3, None, True]}, ['"red"', "3", "null", "true", '"blue"']),
    ({"const": {"a": [1, 2]}}, ['{"a": [1, 2]}', '{"a":[1,2]}', '{"a": [2, 1]}']),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, ['"x"', "12", "1.5"]),
    ({"oneOf": [{"type": "object", "properties": {"kind": {"const": "a"}}, "required": ["kind"]},
                {"type": "object", "properties": {"kind": {"const": "b"}, "n": {"type": "integer"}},
                 "required": ["kind", "n"]}]},
     ['{"kind": "a"}', '{"kind": "b", "n": 2}', '{"kind": "c"}']),
    ({"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
                                                         "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                         "required": ["value"]}},
      "$ref": "#/$defs/node"},
     ['{"value": 1, "children": [{"value": 2}, {"value": 3, "children": []}]}', '{"children": []}']),
    ({"type": "object", "properties": {"id": {"type": "integer"}}, "additionalProperties": {"type": "string"}},
     ['{"id": 1, "extra": "x"}', '{"id": 1, "extra": 2}']),
    ({"type": "object", "additionalProperties": False, "properties": {}}, ["{}", '{"a": 1}']),
    ({"type": "object"}, ['{"a": [1, {"b": null}], "c": "d"}', "[]", "{}"]),
    ({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
     ['["a", 1]', '["a", 1, 2]', "[1, 1]"]),
    ({"type": "object", "properties": {
        "name": {"type": "string", "description": "The function name"},
        "arguments": {"type": "object", "properties": {
            "query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1},
            "filters": {"type": "array", "items": {"type": "object", "properties": {
                "field": {"type": "string"}, "op": {"enum": ["eq", "lt", "gt"]}, "value": {"type": ["string", "number"]}},
                "required": ["field", "op", "value"]}}},
            "required": ["query"]}},
      "required": ["name", "arguments"]},
     ['{"name": "search", "arguments": {"query": "shoes", "limit": 10, "filters": [{"field": "price", "op": "lt", "value": 50}]}}',
      '{"name": "search", "arguments": {"limit": 10}}']),
    ({}, ['{"anything": [true, 1.5e-3, "x"]}', '"s"', "12", "nul"]),
    ({"type": ["integer", "null"]}, ["null", "7", '"7"']),
]

REGEXES = [
    (r"\d{3}-\d{4}", ["555-1234", "55-1234", "5555-123"]),
    (r"[a-z]+@[a-z]+\.(com|org)", ["me@site.com", "me@site.net", "Me@site.com"]),
    (r"(yes|no|maybe)", ["yes", "maybe", "nope"]),
    (r"-?\d+(\.\d+)?", ["-12.5", "3", "1.", ".5"]),
    (r"[A-Z][a-z]{2,8}", ["Paris", "P", "Parisiennes"]),
    (r"\w+\s\w+", ["hello world", "hello  world"]),
    (r"(ab)*c", ["ababc", "c", "abac"]),
    (r"[^,]+,[^,]+", ["a,b", "a,b,c", ",b"]),
    (r"(\+|-)?[0-9]{1,3}(,[0-9]{3})*", ["+1,234,567", "1234", "-12"]),
    (r"#[0-9a-fA-F]{6}", ["#ff00AA", "#ff00A", "ff00aa"]),
    (r"(https?)://[a-z.]+/[a-z]*", ["https://example.com/path", "ftp://x/y"]),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", ["2024-01-31T23:59", "2024-1-31T23:59"]),
    (r"[\u00e0-\u00ff]+x", ["\u00e9\u00e8x", "ex"]),
    (r".{2,4}", ["ab", "a\nbc", "abcde", "\u4e2d\u6587"]),
    (r"(a|b|c){2}(d|e)?", ["abd", "ab", "abf"]),
    (r"[ -~]*", ["printable text!", "tab\there"]),
]

GRAMMARS = [
    ('root ::= "{" ws pair (ws "," ws pair)* ws "}"\npair ::= key ws ":" ws value\nkey ::= "\\"" [a-z]+ "\\""\n'
     'value ::= [0-9]+ | key | root\nws ::= [ \\t\\n]*',
     ['{"a": 1, "b": {"c": "d"}}', '{"a": }', '{ "k" :12 }']),
    ('root ::= expr\nexpr ::= term (("+" | "-") term)*\nterm ::= factor (("*" | "/") factor)*\n'
     'factor ::= [0-9]+ | "(" expr ")"',
     ["1+2*(3-4)/5", "1+", "((2))", "2**3"]),
    ('root ::= line+\nline ::= [A-Za-z ]+ "\\n"', ["Hello World\nbye\n", "no newline", "\n"]),
    ('root ::= "SELECT " cols " FROM " name (" WHERE " name " = " [0-9]+)?\ncols ::= "*" | name (", " name)*\n'
     'name ::= [a-z_]+', ["SELECT a, b FROM t WHERE x = 1", "SELECT * FROM t", "SELECT FROM t"]),
    ('root ::= list\nlist ::= "[" (item ("," item)*)? "]"\nitem ::= "x" | list', ["[x,[x,[]],x]", "[,]", "[[[]]]"]),
    ('root ::= [^\\n]{3,6} "!"', ["abc!", "ab!", "abcdefg!", "\u00e9\u00e9\u00e9!"]),
    ('root ::= a b\na ::= "x"?\nb ::= ("y" | "")+ "z"', ["xyz", "z", "xyyz", "xx"]),
    ('root ::= s\ns ::= "(" s ")" s | ""', ["(()())", "(()", "()()"]),
    ('root ::= "\\u00e9t\\u00e9" | "\\U0001F600" | "\\x41\\x42"', ["\u00e9t\u00e9", "\U0001F600", "AB", "A"]),
    ('root ::= [\\x00-\\x7f]{1,3} [^\\x00-\\x7f]', ["ab\u00e9", "abcd\u00e9", "a\u4e2d"]),
    ('root ::= "true" | "false" | number\nnumber ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)?',
     ["true", "-0.5", "01", "12.0"]),
    ('root ::= item{2,3}\nitem ::= "<" [a-z]{1,2} ">"', ["<a><bc>", "<a>", "<a><b><c><d>"]),
    ('root ::= "a" rest\nrest ::= rest "b" | "c"', ["acbb", "ac", "ab"]),
]

CHOICES = [
    ["positive", "negative", "neutral"],
    ["yes", "no", 'say "hi"', "back\\slash"],
    ["Paris", "Par", "Parisian", "caf\u00e9"],
]

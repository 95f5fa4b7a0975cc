// The slice of Python that vLLM's pythonic tool parser reads with `ast.parse`: a module whose first statement is
// an expression `[call(kw=literal, ...), ...]`. Literals are what vLLM's get_parameter_value turns into JSON:
// str (all prefixes but bytes; f-strings without placeholders), int, float, True/False/None, true/false/null,
// lists, tuples and sets (as lists), dicts with constant keys, unary +/- on numbers. Call targets are names or
// dotted names. Text outside this slice is "not parsed", which is what vLLM's outcome is for it too (a
// SyntaxError, or a tree its converter rejects), with the exceptions listed in the parser's file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace podserve::openai {

struct PyCall {
  std::string name;       // dotted
  std::string arguments;      // json.dumps(kwargs, ensure_ascii=False) when arguments_ok
  bool arguments_ok = true;  // false: a target or value vLLM's converter rejects (the whole parse then fails)
};

struct PyModule {
  bool syntax_ok = false;        // ast.parse succeeded (within the slice)
  bool is_call_list = false;     // body[0] is an expression whose value is a list of calls
  bool has_set = false;          // some ast.Set node in the tree
  std::vector<PyCall> calls;
};

/// ast.parse(text) and the walk vLLM's parser does over it.
PyModule parse_py_calls(std::string_view text);

}  // namespace podserve::openai

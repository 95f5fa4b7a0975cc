// `podserve tokenize --tokenizer PATH [--decode]`: JSON lines in, JSON lines out, one per input line.
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "tool_commands.h"
#include "tool_sources.h"

namespace podserve {
namespace {

namespace json = boost::json;

constexpr const char* kHelp =
    "Usage: podserve tokenize --tokenizer PATH [--decode]\n\n"
    "PATH is a model directory (tokenizer.json, tokenizer_config.json), a tokenizer.json or a .gguf file.\n"
    "Reads JSON lines from stdin and writes one JSON line per input line to stdout:\n"
    "  {\"text\": \"...\", \"add_special_tokens\": true}  ->  {\"ids\": [...]}\n"
    "  --decode: {\"ids\": [...], \"skip_special_tokens\": false}  ->  {\"text\": \"...\"}\n"
    "add_special_tokens (default true) runs the post-processor (e.g. BOS); special-token texts in the input\n"
    "are always parsed, as HF's encode does. A bad line gets {\"error\": ...} and the exit code is 1.\n";

bool flag_or(const json::object& o, std::string_view key, bool fallback, std::string* error) {
  const json::value* v = o.if_contains(key);
  if (!v) return fallback;
  if (!v->is_bool()) *error = "'" + std::string(key) + "' must be true or false";
  return v->is_bool() ? v->get_bool() : fallback;
}

// One input line -> one output object; `error` is set for a bad line.
json::object handle(const Tokenizer& tok, const std::string& line, bool decode, std::string* error) {
  boost::system::error_code ec;
  json::value in = json::parse(line, ec);
  json::object out;
  if (ec || !in.is_object()) {
    *error = "not a JSON object";
    return out;
  }
  const json::object& o = in.get_object();
  if (!decode) {
    const json::value* text = o.if_contains("text");
    if (!text || !text->is_string()) {
      *error = "'text' must be a string";
      return out;
    }
    const bool add_special = flag_or(o, "add_special_tokens", true, error);
    json::array ids;
    for (int32_t id : tok.encode(text->get_string(), add_special)) ids.push_back(id);
    out["ids"] = std::move(ids);
    return out;
  }
  const json::value* ids = o.if_contains("ids");
  if (!ids || !ids->is_array()) {
    *error = "'ids' must be a list of token ids";
    return out;
  }
  std::vector<int32_t> values;
  for (const json::value& id : ids->get_array()) {
    if (!id.is_int64() || id.get_int64() < 0 || id.get_int64() >= tok.vocab_size()) {
      *error = "'ids' holds " + json::serialize(id) + ", not a token id in [0, " + std::to_string(tok.vocab_size()) + ")";
      return out;
    }
    values.push_back(static_cast<int32_t>(id.get_int64()));
  }
  const bool skip = flag_or(o, "skip_special_tokens", false, error);
  out["text"] = tok.decode(values, skip);
  return out;
}

}  // namespace

int run_tokenize(int argc, char** argv) {
  std::string path;
  bool decode = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (!std::strcmp(argv[i], "--decode")) {
      decode = true;
    } else if (!std::strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
      path = argv[++i];
    } else {
      std::fprintf(stderr, "podserve tokenize: unknown or incomplete option '%s'\n%s", argv[i], kHelp);
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "podserve tokenize: --tokenizer PATH is required\n%s", kHelp);
    return 2;
  }
  Result<Tokenizer> tok = load_tool_tokenizer(path);
  if (!tok.ok()) {
    std::fprintf(stderr, "podserve tokenize: %s\n", tok.status().message().c_str());
    return 1;
  }
  int rc = 0;
  std::string line;
  for (size_t n = 1; std::getline(std::cin, line); ++n) {
    std::string error;
    json::object out = handle(*tok, line, decode, &error);
    if (!error.empty()) {
      std::fprintf(stderr, "podserve tokenize: line %zu: %s\n", n, error.c_str());
      out = json::object{{"error", "line " + std::to_string(n) + ": " + error}};
      rc = 1;
    }
    std::cout << json::serialize(out) << '\n';
  }
  std::cout.flush();
  return rc;
}

}  // namespace podserve

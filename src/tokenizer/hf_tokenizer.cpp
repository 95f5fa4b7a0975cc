#include "tokenizer/hf_tokenizer.h"

#include <boost/json.hpp>
#include <filesystem>

#include "base/mapped_file.h"
#include "tokenizer/tokenizer_json.h"

namespace podserve {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

Result<std::string> read_text(const fs::path& path) {
  PODSERVE_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path.string()));
  return std::string(reinterpret_cast<const char*>(file.data()), file.size());
}

// Parses an optional JSON object file: null when the file does not exist.
Result<json::value> read_json_object(const fs::path& path) {
  std::error_code fs_ec;
  if (!fs::exists(path, fs_ec)) return json::value();
  PODSERVE_ASSIGN_OR_RETURN(std::string text, read_text(path));
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return invalid_argument("'" + path.string() + "' is not a JSON object");
  return v;
}

// A special token as written in tokenizer_config.json: a string, null, or {"content": ...}.
std::string token_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return "";
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_object()) {
    const json::value* c = v->get_object().if_contains("content");
    if (c && c->is_string()) return std::string(c->get_string());
  }
  return "";
}

std::optional<bool> optional_bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() ? std::optional<bool>(v->get_bool()) : std::nullopt;
}

std::optional<double> optional_number(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_number() ? std::optional<double>(v->to_number<double>()) : std::nullopt;
}

std::optional<int64_t> optional_int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_int64() ? std::optional<int64_t>(v->get_int64()) : std::nullopt;
}

Status read_chat_templates(const json::object& o, const fs::path& file, HfTokenizerConfig* config) {
  const json::value* t = o.if_contains("chat_template");
  if (!t || t->is_null()) return ok_status();
  if (t->is_string()) {
    config->chat_templates.push_back({"default", std::string(t->get_string())});
    return ok_status();
  }
  if (!t->is_array()) return invalid_argument("'" + file.string() + "': chat_template must be a string or a list");
  for (const json::value& item : t->get_array()) {
    const json::object* e = item.if_object();
    const json::value* name = e ? e->if_contains("name") : nullptr;
    const json::value* source = e ? e->if_contains("template") : nullptr;
    if (!name || !name->is_string() || !source || !source->is_string()) {
      return invalid_argument("'" + file.string() + "': each chat_template entry needs 'name' and 'template'");
    }
    config->chat_templates.push_back({std::string(name->get_string()), std::string(source->get_string())});
  }
  return ok_status();
}

Status read_generation_config(const fs::path& file, HfTokenizerConfig* config) {
  PODSERVE_ASSIGN_OR_RETURN(json::value v, read_json_object(file));
  if (v.is_null()) return ok_status();
  const json::object& o = v.get_object();
  if (const json::value* eos = o.if_contains("eos_token_id")) {
    const auto add = [&](const json::value& id) -> Status {
      if (!id.is_int64() || id.get_int64() < 0 || id.get_int64() > INT32_MAX) {
        return invalid_argument("'" + file.string() + "': eos_token_id must be token ids");
      }
      config->eos_token_ids.push_back(static_cast<int32_t>(id.get_int64()));
      return ok_status();
    };
    if (eos->is_array()) {
      for (const json::value& id : eos->get_array()) PODSERVE_RETURN_IF_ERROR(add(id));
    } else if (!eos->is_null()) {
      PODSERVE_RETURN_IF_ERROR(add(*eos));
    }
  }
  if (auto bos = optional_int(o, "bos_token_id"); bos && *bos >= 0 && *bos <= INT32_MAX) {
    config->bos_token_id = static_cast<int32_t>(*bos);
  }
  GenerationDefaults& g = config->generation;
  g.do_sample = optional_bool(o, "do_sample");
  g.temperature = optional_number(o, "temperature");
  g.top_p = optional_number(o, "top_p");
  g.min_p = optional_number(o, "min_p");
  g.repetition_penalty = optional_number(o, "repetition_penalty");
  g.top_k = optional_int(o, "top_k");
  g.max_new_tokens = optional_int(o, "max_new_tokens");
  return ok_status();
}

// transformers' Llama/Gemma fast tokenizers rebuild the post-processor from add_bos_token / add_eos_token.
bool rebuilds_post_processor(std::string_view tokenizer_class) {
  for (std::string_view c : {"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast",
                             "GemmaTokenizer", "GemmaTokenizerFast"}) {
    if (c == tokenizer_class) return true;
  }
  return false;
}

}  // namespace

std::string HfTokenizerConfig::default_chat_template() const {
  if (const NamedChatTemplate* t = chat_template("default")) return t->source;
  return chat_templates.size() == 1 ? chat_templates[0].source : "";
}

const NamedChatTemplate* HfTokenizerConfig::chat_template(std::string_view name) const {
  for (const NamedChatTemplate& t : chat_templates) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<HfTokenizerConfig> load_hf_tokenizer_config(const std::string& dir_path) {
  const fs::path dir(dir_path);
  HfTokenizerConfig config;
  const fs::path config_file = dir / "tokenizer_config.json";
  PODSERVE_ASSIGN_OR_RETURN(json::value v, read_json_object(config_file));
  if (v.is_object()) {
    const json::object& o = v.get_object();
    config.bos_token = token_string(o, "bos_token");
    config.eos_token = token_string(o, "eos_token");
    config.pad_token = token_string(o, "pad_token");
    config.unk_token = token_string(o, "unk_token");
    config.add_bos_token = optional_bool(o, "add_bos_token");
    config.add_eos_token = optional_bool(o, "add_eos_token");
    if (const json::value* c = o.if_contains("tokenizer_class"); c && c->is_string()) {
      config.tokenizer_class = std::string(c->get_string());
    }
    PODSERVE_RETURN_IF_ERROR(read_chat_templates(o, config_file, &config));
  }
  // Newer transformers save the template as its own file, which wins over the inline one.
  std::error_code ec;
  if (fs::exists(dir / "chat_template.jinja", ec)) {
    PODSERVE_ASSIGN_OR_RETURN(std::string source, read_text(dir / "chat_template.jinja"));
    std::erase_if(config.chat_templates, [](const NamedChatTemplate& t) { return t.name == "default"; });
    config.chat_templates.insert(config.chat_templates.begin(), {"default", std::move(source)});
  }
  PODSERVE_RETURN_IF_ERROR(read_generation_config(dir / "generation_config.json", &config));
  return config;
}

Result<HfTokenizer> load_hf_tokenizer(const std::string& path) {
  std::error_code ec;
  fs::path file(path), dir(path);
  if (fs::is_directory(file, ec)) {
    file = dir / "tokenizer.json";
  } else {
    dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  }
  if (!fs::exists(file, ec)) return not_found("no tokenizer.json at '" + file.string() + "'");
  PODSERVE_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::open(file.string()));
  Result<TokenizerSpec> parsed =
      parse_tokenizer_json(std::string_view(reinterpret_cast<const char*>(mapped.data()), mapped.size()));
  if (!parsed.ok()) return invalid_argument("'" + file.string() + "': " + parsed.status().message());
  TokenizerSpec spec = std::move(parsed).value();
  PODSERVE_ASSIGN_OR_RETURN(HfTokenizerConfig config, load_hf_tokenizer_config(dir.string()));

  const auto id_of = [&spec](const std::string& token) -> int32_t {
    if (token.empty()) return -1;
    for (const AddedTokenSpec& a : spec.added_tokens) {
      if (a.content == token) return a.id;
    }
    for (size_t i = 0; i < spec.vocab.size(); ++i) {
      if (spec.vocab[i] == token) return static_cast<int32_t>(i);
    }
    return -1;
  };
  spec.bos_id = id_of(config.bos_token);
  spec.eos_id = id_of(config.eos_token);
  spec.pad_id = id_of(config.pad_token);
  // tokenizer_class decides whether add_bos_token / add_eos_token rebuild the post-processor.
  if (rebuilds_post_processor(config.tokenizer_class)) {
    spec.prefix_ids.clear();
    spec.suffix_ids.clear();
    if (config.add_bos_token.value_or(true) && spec.bos_id >= 0) spec.prefix_ids.push_back(spec.bos_id);
    if (config.add_eos_token.value_or(false) && spec.eos_id >= 0) spec.suffix_ids.push_back(spec.eos_id);
  }
  Result<Tokenizer> tokenizer = Tokenizer::create(std::move(spec));
  if (!tokenizer.ok()) return invalid_argument("'" + file.string() + "': " + tokenizer.status().message());
  if (config.bos_token_id < 0) config.bos_token_id = tokenizer->bos_id();
  if (tokenizer->eos_id() >= 0 &&
      std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), tokenizer->eos_id()) ==
          config.eos_token_ids.end()) {
    config.eos_token_ids.push_back(tokenizer->eos_id());
  }
  for (int32_t id : config.eos_token_ids) {
    if (id >= tokenizer->vocab_size()) {
      return invalid_argument("'" + (dir / "generation_config.json").string() + "': eos_token_id " +
                              std::to_string(id) + " is outside the vocabulary");
    }
  }
  return HfTokenizer{std::move(tokenizer).value(), std::move(config)};
}

}  // namespace podserve

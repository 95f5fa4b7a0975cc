#include "serve/lora_config.h"

#include <boost/json.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/log.h"
#include "hub/resolve.h"
#include "model/causal_lm.h"
#include "model/lora.h"

namespace podserve {
namespace json = boost::json;
namespace {

Result<LoraModuleSpec> spec_of_object(const json::object& o, const std::string& source) {
  LoraModuleSpec spec;
  std::string bad;
  for (const auto& [key, value] : o) {
    std::string* field = key == "name" ? &spec.name : key == "path" ? &spec.path
                                                    : key == "base_model_name" ? &spec.base_model_name : nullptr;
    if (key == "is_3d_lora_weight" && value.is_bool() && !value.as_bool()) continue;  // vLLM's default
    if (field == nullptr || !(value.is_string() || (key == "base_model_name" && value.is_null()))) {
      bad += (bad.empty() ? "" : ", ") + std::string(key);
      continue;
    }
    if (value.is_string()) *field = std::string(value.as_string());
  }
  if (!bad.empty()) {
    return invalid_argument("Invalid fields for " + source + ": " + bad +
                            " (expected {\"name\": str, \"path\": str, \"base_model_name\": str})");
  }
  if (spec.name.empty() || spec.path.empty()) {
    return invalid_argument("Invalid fields for " + source + ": each adapter needs a \"name\" and a \"path\"");
  }
  return spec;
}

Status add_json(std::string_view text, const std::string& source, std::vector<LoraModuleSpec>* out) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return invalid_argument("Invalid JSON format for " + source + ": " + std::string(text));
  if (v.is_object()) {
    PODSERVE_ASSIGN_OR_RETURN(LoraModuleSpec spec, spec_of_object(v.as_object(), source));
    out->push_back(std::move(spec));
    return ok_status();
  }
  if (!v.is_array()) return invalid_argument(source + ": expected a JSON object or a list of them");
  for (const json::value& item : v.as_array()) {
    if (!item.is_object()) return invalid_argument(source + ": every item of the list must be a JSON object");
    PODSERVE_ASSIGN_OR_RETURN(LoraModuleSpec spec, spec_of_object(item.as_object(), source));
    out->push_back(std::move(spec));
  }
  return ok_status();
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Result<std::vector<LoraModuleSpec>> parse_lora_modules(std::string_view value, const std::string& source) {
  std::vector<LoraModuleSpec> out;
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && is_space(value[i])) ++i;
    if (i == value.size()) break;
    if (value[i] == '[' || value[i] == '{') {
      // A JSON value runs to its matching bracket (strings may hold brackets; a parse of the rest finds the end).
      json::stream_parser p;
      boost::system::error_code ec;
      const size_t used = p.write_some(value.data() + i, value.size() - i, ec);
      if (ec || !p.done()) return invalid_argument("Invalid JSON format for " + source + ": " + std::string(value.substr(i)));
      PODSERVE_RETURN_IF_ERROR(add_json(value.substr(i, used), source, &out));
      i += used;
      continue;
    }
    size_t end = i;
    while (end < value.size() && !is_space(value[end])) ++end;
    const std::string_view item = value.substr(i, end - i);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      return invalid_argument("Invalid value '" + std::string(item) + "' for " + source +
                              ": expected name=path or a JSON object {\"name\": ..., \"path\": ...}");
    }
    out.push_back({std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)), ""});
    i = end;
  }
  return out;
}

LoraLoader make_lora_loader(const ModelConfig& config, int max_lora_rank, const hub::HubSettings& settings) {
  return [config, max_lora_rank, settings](const std::string& path) -> Result<std::shared_ptr<const LoraAdapter>> {
    if (hub::is_local_spec(path)) return load_lora_adapter(path, config, max_lora_rank);
    hub::ResolveRequest request{path, "", "", hub::SelectMode::kLoraAdapter, false};
    Result<hub::ResolvedModel> resolved = hub::resolve_model(request, settings);
    if (!resolved.ok()) return not_found("No adapter found for " + path + " (" + resolved.status().message() + ")");
    return load_lora_adapter(resolved->local_path, config, max_lora_rank);
  };
}

Result<std::vector<ServedLora>> load_lora_modules(const std::vector<LoraModuleSpec>& specs, const CausalLm& lm,
                                                  const LoraLoader& load, const std::string& served_name) {
  std::vector<ServedLora> out;
  for (const LoraModuleSpec& spec : specs) {
    auto failed = [&](const Status& s) {
      return Status(s.code(), "Loading lora " + spec.name + " failed: " + s.message());
    };
    if (!lm.supports_lora()) {
      return failed(unimplemented("this model does not apply LoRA adapters (podserve runs them on GGUF and "
                                  "safetensors llama, mistral, qwen2/3, gemma and phi3 models; not Mixtral)"));
    }
    if (spec.name == served_name) {
      return failed(invalid_argument("The lora adapter '" + spec.name + "' conflicts with a served base model."));
    }
    for (const ServedLora& other : out) {
      if (other.name == spec.name) return failed(invalid_argument("the name is given twice"));
    }
    Result<std::shared_ptr<const LoraAdapter>> adapter = load(spec.path);
    if (!adapter.ok()) return failed(adapter.status());
    const std::string dir = adapter.value()->path;
    out.push_back({spec.name, spec.path, spec.base_model_name.empty() ? served_name : spec.base_model_name,
                   std::move(adapter).value(), 0, dir});
  }
  return out;
}

Result<std::string> lora_resolver_dir(const std::optional<std::string>& plugins, const std::string& cache_dir,
                                      const std::string& hf_repos) {
  auto loads = [&](std::string_view plugin) {
    if (!plugins) return true;  // vLLM loads every installed plugin unless VLLM_PLUGINS names some
    std::string_view rest = *plugins;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
      if (item == plugin) return true;
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    return false;
  };
  if (!hf_repos.empty()) {
    PODSERVE_LOG(kWarning) << "VLLM_LORA_RESOLVER_HF_REPO_LIST is set, but podserve has no Hub LoRA resolver "
                              "(vLLM's lora_hf_hub_resolver): requests naming adapters in those repos stay 404s";
  }
  if (cache_dir.empty() || !loads("lora_filesystem_resolver")) return std::string();
  std::error_code ec;
  if (!std::filesystem::is_directory(cache_dir, ec)) {
    return invalid_argument("VLLM_LORA_RESOLVER_CACHE_DIR must be set to a valid directory for Filesystem Resolver "
                            "plugin to function (got '" + cache_dir + "')");
  }
  return cache_dir;
}

bool resolver_accepts(const std::string& cache_dir, const std::string& name, const std::string& base_model,
                      std::string* dir) {
  const std::filesystem::path rel(name);
  if (name.empty() || rel.is_absolute()) return false;
  for (const auto& part : rel) {
    if (part == "..") return false;
  }
  const std::filesystem::path path = std::filesystem::path(cache_dir) / rel;
  std::ifstream in(path / "adapter_config.json", std::ios::binary);
  if (!in) return false;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::system::error_code jec;
  const boost::json::value config = boost::json::parse(text, jec);
  if (jec || !config.is_object()) return false;
  const boost::json::object& o = config.as_object();
  const boost::json::value* type = o.if_contains("peft_type");
  const boost::json::value* base = o.if_contains("base_model_name_or_path");
  if (type == nullptr || !type->is_string() || type->as_string() != "LORA") return false;
  if (base == nullptr || !base->is_string() || base->as_string() != base_model) return false;
  *dir = path.string();
  return true;
}

}  // namespace podserve

#include "hub/select_files.h"

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "hub/repo.h"

namespace podserve::hub {
namespace {

constexpr size_t kMaxIndexBytes = 64u << 20;

// Config, tokenizer and template files a loader may read; taken when the repo has them.
constexpr const char* kSideFiles[] = {
    "config.json",        "generation_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "added_tokens.json",  "tokenizer.model", "vocab.json",
    "merges.txt",         "chat_template.jinja",    "chat_template.json"};

bool ends_with(const std::string& s, std::string_view suffix) { return s.ends_with(suffix); }
bool top_level(const std::string& s) { return s.find('/') == std::string::npos; }

// "model-00001-of-00003.gguf" -> the regex for all its parts; nullopt when not a split GGUF.
std::optional<std::regex> split_gguf_parts(const std::string& file) {
  static const std::regex split(R"((.*)-\d{5}-of-(\d{5})\.gguf)");
  std::smatch m;
  if (!std::regex_match(file, m, split)) return std::nullopt;
  std::string prefix;
  for (char c : m[1].str()) {  // escape the prefix for use in a regex
    if (std::string_view(R"(\^$.|?*+()[]{}/)").find(c) != std::string_view::npos) prefix += '\\';
    prefix += c;
  }
  return std::regex(prefix + R"(-\d{5}-of-)" + m[2].str() + R"(\.gguf)");
}

std::string list_some(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 20; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 20) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

}  // namespace

Result<Selection> select_files(const std::string& repo_id, const std::vector<std::string>& repo_files,
                               const std::string& gguf_file, SelectMode mode) {
  const std::set<std::string> have(repo_files.begin(), repo_files.end());
  Selection sel;
  std::vector<std::string> ggufs;
  for (const auto& f : repo_files) {
    if (ends_with(f, ".gguf")) ggufs.push_back(f);
  }
  std::sort(ggufs.begin(), ggufs.end());

  if (mode == SelectMode::kModel && !gguf_file.empty()) {
    if (!have.count(gguf_file)) {
      return not_found("'" + gguf_file + "' is not a file of " + repo_id +
                       (ggufs.empty() ? " (it has no .gguf files)" : "; its .gguf files: " + list_some(ggufs)));
    }
    sel.gguf_file = gguf_file;
    if (auto parts = split_gguf_parts(gguf_file)) {
      for (const auto& f : ggufs) {
        if (std::regex_match(f, *parts)) sel.files.push_back(f);
      }
    } else {
      sel.files.push_back(gguf_file);
    }
    return sel;
  }

  if (mode == SelectMode::kLoraAdapter) {
    for (const char* name : {"adapter_config.json", "adapter_model.safetensors"}) {
      if (!have.count(name)) return not_found(repo_id + " has no " + name + " (a PEFT LoRA adapter)");
      sel.files.push_back(name);
    }
    return sel;
  }
  for (const char* side : kSideFiles) {
    if (have.count(side)) sel.files.push_back(side);
  }
  if (mode == SelectMode::kConfig) {
    if (!have.count("config.json")) {
      return not_found(repo_id + " has no config.json (LOAD_FORMAT=dummy builds the model from it)");
    }
    return sel;
  }
  if (mode == SelectMode::kTokenizer) {
    const bool has_tokenizer = have.count("tokenizer.json") || have.count("tokenizer.model") ||
                               have.count("vocab.json") || have.count("tokenizer_config.json");
    if (!has_tokenizer) return not_found(repo_id + " has no tokenizer files (tokenizer.json, tokenizer.model, ...)");
    return sel;
  }

  std::vector<std::string> weights;
  std::string index;
  auto take_format = [&](std::string_view single, std::string_view index_name, std::string_view ext) {
    if (have.count(std::string(index_name))) {
      index = std::string(index_name);
      return true;
    }
    if (have.count(std::string(single))) {
      weights.push_back(std::string(single));
      return true;
    }
    for (const auto& f : repo_files) {
      if (top_level(f) && ends_with(f, ext) && !f.starts_with("consolidated")) weights.push_back(f);
    }
    return !weights.empty();
  };
  const bool has_weights = take_format("model.safetensors", "model.safetensors.index.json", ".safetensors") ||
                           take_format("pytorch_model.bin", "pytorch_model.bin.index.json", ".bin");
  if (has_weights && have.count("config.json")) {
    if (!index.empty()) {
      sel.files.push_back(index);
      sel.weights_index = index;
    }
    sel.files.insert(sel.files.end(), weights.begin(), weights.end());
    return sel;
  }
  if (ggufs.size() == 1 || (!ggufs.empty() && split_gguf_parts(ggufs.front()) &&
                            std::all_of(ggufs.begin(), ggufs.end(), [&](const std::string& f) {
                              return std::regex_match(f, *split_gguf_parts(ggufs.front()));
                            }))) {
    return select_files(repo_id, repo_files, ggufs.front(), mode);
  }
  if (ggufs.size() > 1) {
    return invalid_argument(repo_id + " has several .gguf files; pick one with " + repo_id +
                            ":FILE.gguf or --gguf-file FILE.gguf: " + list_some(ggufs));
  }
  if (has_weights) return not_found(repo_id + " has weights but no config.json");
  return not_found(repo_id + " has no model weights podserve can use (.safetensors, .bin or .gguf)");
}

Result<std::vector<std::string>> shards_from_index(const std::string& index_file,
                                                   const std::string& index_repo_path) {
  std::ifstream f(index_file, std::ios::binary);
  if (!f) return not_found("cannot open " + index_file);
  std::stringstream content;
  content << f.rdbuf();
  const std::string text = content.str();
  if (text.size() > kMaxIndexBytes) return data_loss(index_file + " is larger than 64 MiB");
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text, ec);
  const auto* obj = ec ? nullptr : doc.if_object();
  const auto* map = obj ? obj->if_contains("weight_map") : nullptr;
  if (!map || !map->is_object()) return data_loss(index_file + " has no \"weight_map\" object");
  // Shards live next to the index.
  const size_t slash = index_repo_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : index_repo_path.substr(0, slash + 1);
  std::set<std::string> shards;
  for (const auto& [tensor, file] : map->as_object()) {
    if (!file.is_string()) return data_loss(index_file + ": weight_map[\"" + std::string(tensor) + "\"] is not a string");
    const std::string path = dir + std::string(file.as_string());
    PODSERVE_RETURN_IF_ERROR(validate_repo_path(path));
    shards.insert(path);
  }
  if (shards.empty()) return data_loss(index_file + ": the weight_map is empty");
  return std::vector<std::string>(shards.begin(), shards.end());
}

}  // namespace podserve::hub

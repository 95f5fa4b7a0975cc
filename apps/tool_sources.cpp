#include "tool_sources.h"

#include <filesystem>

#include "base/mapped_file.h"
#include "io/gguf.h"
#include "model/gguf_vocab.h"
#include "tokenizer/hf_tokenizer.h"

namespace podserve {
namespace {

namespace fs = std::filesystem;

bool is_gguf(const std::string& path) { return fs::path(path).extension() == ".gguf"; }

std::string gguf_token(const GgufFile& file, const VocabData& v, std::string_view key) {
  if (!file.has(key)) return "";
  Result<int64_t> id = file.get_int(key);
  return id.ok() && *id >= 0 && static_cast<size_t>(*id) < v.tokens.size() ? v.tokens[*id] : "";
}

Result<ToolTemplate> gguf_template(const std::string& path, const std::string& name) {
  PODSERVE_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
  const std::string key = name.empty() ? "tokenizer.chat_template" : "tokenizer.chat_template." + name;
  if (!file.has(key)) return not_found("'" + path + "' has no " + key);
  ToolTemplate t;
  PODSERVE_ASSIGN_OR_RETURN(t.source, file.get_string(key));
  if (Result<VocabData> v = vocab_from_gguf(file); v.ok()) {
    t.bos_token = gguf_token(file, *v, "tokenizer.ggml.bos_token_id");
    t.eos_token = gguf_token(file, *v, "tokenizer.ggml.eos_token_id");
    t.unk_token = gguf_token(file, *v, "tokenizer.ggml.unknown_token_id");
    t.pad_token = gguf_token(file, *v, "tokenizer.ggml.padding_token_id");
  }
  return t;
}

}  // namespace

Result<Tokenizer> load_tool_tokenizer(const std::string& path) {
  if (is_gguf(path)) {
    PODSERVE_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
    PODSERVE_ASSIGN_OR_RETURN(VocabData vocab, vocab_from_gguf(file));
    return Tokenizer::create(vocab);
  }
  PODSERVE_ASSIGN_OR_RETURN(HfTokenizer hf, load_hf_tokenizer(path));
  return std::move(hf.tokenizer);
}

Result<ToolTemplate> load_tool_template(const std::string& path, const std::string& name) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return not_found("no such file or directory: '" + path + "'");
  if (is_gguf(path)) return gguf_template(path, name);
  const fs::path p(path);
  const bool is_dir = fs::is_directory(p, ec);
  if (is_dir || p.filename() == "tokenizer_config.json") {
    const std::string dir = is_dir ? path : (p.parent_path().empty() ? "." : p.parent_path().string());
    PODSERVE_ASSIGN_OR_RETURN(HfTokenizerConfig config, load_hf_tokenizer_config(dir));
    ToolTemplate t{"", config.bos_token, config.eos_token, config.unk_token, config.pad_token};
    if (name.empty()) {
      t.source = config.default_chat_template();
    } else if (const NamedChatTemplate* named = config.chat_template(name)) {
      t.source = named->source;
    }
    if (t.source.empty()) {
      return not_found("'" + path + "' has no chat template" + (name.empty() ? "" : " named '" + name + "'"));
    }
    return t;
  }
  PODSERVE_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  return ToolTemplate{std::string(reinterpret_cast<const char*>(file.data()), file.size()), "", "", "", ""};
}

}  // namespace podserve

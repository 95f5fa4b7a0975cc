#include <chrono>
#include <filesystem>

#include "base/log.h"
#include "io/gguf.h"
#include "model/causal_lm.h"
#include "model/gguf_vocab.h"
#include "model/loaded_model.h"
#include "model/registry.h"
#include "tokenizer/hf_tokenizer.h"

namespace podserve {

LoadedModel::LoadedModel(std::unique_ptr<CausalLm> lm, Tokenizer tokenizer, std::string chat_template)
    : lm_(std::move(lm)), tokenizer_(std::move(tokenizer)), chat_template_(std::move(chat_template)) {}
LoadedModel::~LoadedModel() = default;

int LoadedModel::context_length() const { return lm_->config().context_length; }

void LoadedModel::replace_tokenizer(Tokenizer tokenizer, std::string chat_template) {
  tokenizer_ = std::move(tokenizer);
  chat_template_ = std::move(chat_template);
}

namespace {

// A Hugging Face directory: config.json -> architecture, safetensors weights, tokenizer.json + its configs.
Result<std::unique_ptr<LoadedModel>> load_hf_directory(const std::string& dir, const LoadOptions& options) {
  PODSERVE_ASSIGN_OR_RETURN(WeightDType dtype, parse_weight_dtype(options.dtype));
  PODSERVE_ASSIGN_OR_RETURN(HfConfig config, read_hf_config(dir));
  PODSERVE_ASSIGN_OR_RETURN(SafetensorsModel weights, SafetensorsModel::open(dir));
  if (options.show_progress) PODSERVE_LOG(kInfo) << "safetensors: " << weights.tensors().size() << " tensors";
  PODSERVE_ASSIGN_OR_RETURN(HfTokenizer tok, load_hf_tokenizer(dir));
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<CausalLm> lm,
                            create_hf_causal_lm(std::move(config), std::move(weights), dtype, options.num_threads));
  std::string chat_template = tok.config.default_chat_template();
  return std::make_unique<LoadedModel>(std::move(lm), std::move(tok.tokenizer), std::move(chat_template));
}

}  // namespace

namespace {

// The model's weights with its own tokenizer and chat template, from a GGUF file or an HF directory.
Result<std::unique_ptr<LoadedModel>> load_model_files(const std::string& path, const LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto with_path = [&](const Status& s) { return Status(s.code(), "cannot load model '" + path + "': " + s.message()); };
  if (options.show_progress) PODSERVE_LOG(kInfo) << "loading model " << path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    Result<std::unique_ptr<LoadedModel>> model = load_hf_directory(path, options);
    if (!model.ok()) return with_path(model.status());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options.show_progress) PODSERVE_LOG(kInfo) << "model loaded in " << secs << " s";
    return model;
  }
  Result<GgufFile> file = GgufFile::open(path);
  if (!file.ok()) return with_path(file.status());
  Result<std::unique_ptr<LoadedModel>> model = load_gguf_model(std::move(file).value(), options);
  if (!model.ok()) return with_path(model.status());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.show_progress) PODSERVE_LOG(kInfo) << "model loaded in " << secs << " s";
  return model;
}

}  // namespace

Result<std::unique_ptr<LoadedModel>> load_gguf_model(GgufFile file, const LoadOptions& options) {
  if (options.show_progress) {
    PODSERVE_LOG(kInfo) << "parsed GGUF v" << file.version() << ": " << file.tensors().size() << " tensors, "
                        << file.metadata().size() << " metadata keys";
  }
  PODSERVE_ASSIGN_OR_RETURN(VocabData vocab, vocab_from_gguf(file));
  PODSERVE_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::create(std::move(vocab)));
  std::string chat_template;
  if (file.has("tokenizer.chat_template")) {
    PODSERVE_ASSIGN_OR_RETURN(chat_template, file.get_string("tokenizer.chat_template"));
  }
  if (options.show_progress) PODSERVE_LOG(kInfo) << "tokenizer: " << tokenizer.vocab_size() << " tokens";
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<CausalLm> lm, create_causal_lm(std::move(file), options.num_threads));
  if (lm->config().vocab_size > tokenizer.vocab_size()) {
    return data_loss("the embedding has more rows than the vocabulary has tokens");
  }
  return std::make_unique<LoadedModel>(std::move(lm), std::move(tokenizer), std::move(chat_template));
}

Result<std::unique_ptr<LoadedModel>> load_model(const std::string& path, const LoadOptions& options) {
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<LoadedModel> model, load_model_files(path, options));
  if (options.tokenizer_path.empty()) return model;
  Result<HfTokenizer> tok = load_hf_tokenizer(options.tokenizer_path);
  if (!tok.ok()) {
    return Status(tok.status().code(),
                  "cannot load tokenizer '" + options.tokenizer_path + "': " + tok.status().message());
  }
  // Every id the tokenizer produces must have an embedding row (a larger, padded embedding is normal).
  const int64_t rows = model->lm().config().vocab_size;
  if (tok->tokenizer.vocab_size() > rows) {
    return invalid_argument("tokenizer '" + options.tokenizer_path + "' has " +
                            std::to_string(tok->tokenizer.vocab_size()) + " tokens but model '" + path +
                            "' has only " + std::to_string(rows) + " embedding rows");
  }
  if (options.show_progress) {
    PODSERVE_LOG(kInfo) << "tokenizer: " << tok->tokenizer.vocab_size() << " tokens from " << options.tokenizer_path;
  }
  std::string chat_template = tok->config.default_chat_template();
  model->replace_tokenizer(std::move(tok->tokenizer), std::move(chat_template));
  return model;
}

}  // namespace podserve

#include <chrono>
#include <filesystem>

#include "base/log.h"
#include "io/gguf.h"
#include "model/causal_lm.h"
#include "model/device/device_choice.h"
#include "model/device/dummy_device.h"
#include "model/dummy_weights.h"
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
Result<std::unique_ptr<LoadedModel>> load_hf_directory(const std::string& dir, const LoadOptions& options,
                                                       const ComputeOptions& compute) {
  PODSERVE_ASSIGN_OR_RETURN(WeightDType dtype, parse_weight_dtype(options.dtype));
  PODSERVE_ASSIGN_OR_RETURN(HfConfig config, read_hf_config(dir));
  PODSERVE_ASSIGN_OR_RETURN(SafetensorsModel weights, SafetensorsModel::open(dir));
  if (options.show_progress) PODSERVE_LOG(kInfo) << "safetensors: " << weights.tensors().size() << " tensors";
  PODSERVE_ASSIGN_OR_RETURN(HfTokenizer tok, load_hf_tokenizer(dir));
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<CausalLm> lm,
                            create_hf_causal_lm(std::move(config), std::move(weights), dtype, compute));
  std::string chat_template = tok.config.default_chat_template();
  return std::make_unique<LoadedModel>(std::move(lm), std::move(tok.tokenizer), std::move(chat_template));
}

// LOAD_FORMAT=dummy: the directory's config.json and tokenizer, weights made and filled as they are bound (on a
// device: filled there, never in host memory).
Result<std::unique_ptr<LoadedModel>> load_dummy_directory(const std::string& dir, const LoadOptions& options,
                                                          const ComputeOptions& compute) {
  PODSERVE_ASSIGN_OR_RETURN(WeightDType dtype, parse_weight_dtype(options.dtype));
  PODSERVE_ASSIGN_OR_RETURN(HfConfig config, read_hf_config(dir));
  PODSERVE_ASSIGN_OR_RETURN(DType type, dummy_weight_type(dtype, config.torch_dtype));
  PODSERVE_ASSIGN_OR_RETURN(HfTokenizer tok, load_hf_tokenizer(dir));
  if (compute.device != Device::kCpu) {
    auto placeholders = std::make_shared<DeviceDummyTensors>(type, options.dummy_seed);
    ComputeOptions on_device = compute;
    on_device.dummy = placeholders.get();
    PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<CausalLm> lm,
                              create_hf_causal_lm(std::move(config), SafetensorsModel::made_by(placeholders), dtype,
                                                  on_device));
    std::string chat_template = tok.config.default_chat_template();
    auto model = std::make_unique<LoadedModel>(std::move(lm), std::move(tok.tokenizer), std::move(chat_template));
    model->set_dummy_weight_bytes(placeholders->bytes());
    return model;
  }
  auto weights = std::make_shared<DummyWeights>(type, options.dummy_seed, options.num_threads);
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<CausalLm> lm,
                            create_hf_causal_lm(std::move(config), SafetensorsModel::made_by(weights), dtype,
                                                compute));
  const DummyFillStats stats = weights->finish();
  if (options.show_progress) {
    PODSERVE_LOG(kInfo) << "dummy weights (LOAD_FORMAT=dummy): " << stats.tensors << " tensors, "
                        << static_cast<double>(stats.bytes) / (1 << 30) << " GiB of " << dtype_name(type)
                        << ", filled in " << stats.seconds << " s";
  }
  std::string chat_template = tok.config.default_chat_template();
  auto model = std::make_unique<LoadedModel>(std::move(lm), std::move(tok.tokenizer), std::move(chat_template));
  model->set_dummy_weight_bytes(stats.bytes);
  return model;
}

// LOAD_FORMAT against what `path` is; auto takes either.
Status check_load_format(LoadFormat format, bool is_directory) {
  const std::string setting = "LOAD_FORMAT (--load-format) " + std::string(load_format_name(format));
  if ((format == LoadFormat::kSafetensors || format == LoadFormat::kDummy) && !is_directory) {
    return invalid_argument(setting + " needs a Hugging Face model directory (config.json" +
                            (format == LoadFormat::kDummy ? std::string(")") : std::string(", *.safetensors)")) +
                            ", not a file; LOAD_FORMAT auto or gguf reads .gguf files");
  }
  if (format == LoadFormat::kGguf && is_directory) {
    return invalid_argument(setting + " needs a .gguf file, not a directory; LOAD_FORMAT auto or safetensors "
                            "reads Hugging Face directories");
  }
  return ok_status();
}

// A GGUF file's weights (on compute's device), tokenizer and chat template.
Result<std::unique_ptr<LoadedModel>> load_gguf_with(GgufFile file, const LoadOptions& options,
                                                    const ComputeOptions& compute) {
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
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<CausalLm> lm, create_causal_lm(std::move(file), compute));
  if (lm->config().vocab_size > tokenizer.vocab_size()) {
    return data_loss("the embedding has more rows than the vocabulary has tokens");
  }
  return std::make_unique<LoadedModel>(std::move(lm), std::move(tokenizer), std::move(chat_template));
}

// The model's weights with its own tokenizer and chat template, from a GGUF file or an HF directory.
Result<std::unique_ptr<LoadedModel>> load_model_files(const std::string& path, const LoadOptions& options,
                                                      const ComputeOptions& compute) {
  const auto start = std::chrono::steady_clock::now();
  auto with_path = [&](const Status& s) { return Status(s.code(), "cannot load model '" + path + "': " + s.message()); };
  if (options.show_progress) PODSERVE_LOG(kInfo) << "loading model " << path;
  std::error_code ec;
  const bool is_directory = std::filesystem::is_directory(path, ec);
  if (Status st = check_load_format(options.load_format, is_directory); !st.ok()) return with_path(st);
  if (is_directory) {
    Result<std::unique_ptr<LoadedModel>> model = options.load_format == LoadFormat::kDummy
                                                     ? load_dummy_directory(path, options, compute)
                                                     : load_hf_directory(path, options, compute);
    if (!model.ok()) return with_path(model.status());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options.show_progress) PODSERVE_LOG(kInfo) << "model loaded in " << secs << " s";
    return model;
  }
  Result<GgufFile> file = GgufFile::open(path);
  if (!file.ok()) return with_path(file.status());
  Result<std::unique_ptr<LoadedModel>> model = load_gguf_with(std::move(file).value(), options, compute);
  if (!model.ok()) return with_path(model.status());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.show_progress) PODSERVE_LOG(kInfo) << "model loaded in " << secs << " s";
  return model;
}

}  // namespace

Result<std::unique_ptr<LoadedModel>> load_gguf_model(GgufFile file, const LoadOptions& options) {
  return load_gguf_with(std::move(file), options, ComputeOptions(options.num_threads));
}

Result<std::unique_ptr<LoadedModel>> load_model(const std::string& path, const LoadOptions& options) {
  // DEVICE auto becomes cpu or cuda here (the CUDA runtime is asked only for auto and cuda).
  ComputeOptions compute(options.num_threads);
  PODSERVE_ASSIGN_OR_RETURN(compute.device, resolve_device(options.device.device));
  compute.options = options.device;
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<LoadedModel> model, load_model_files(path, options, compute));
  if (compute.device == Device::kCpu) {
    PODSERVE_RETURN_IF_ERROR(check_cpu_kv_cache_dtype(options.device.kv_cache_dtype, model->lm().config().kv_f32));
  }
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

// An Engine that stops where the model would start: submit() runs the real engine's admission checks
// (validate_request) and then answers at once, from the caller's thread, with one generated token per choice
// (logprobs and prompt logprobs when asked), so the routes' whole answer path (JSON, SSE, n choices, echo,
// usage) runs without a forward pass. It also keeps the last admitted request for the targets' checks.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "engine/engine.h"

namespace podserve::fuzz {

class CaptureEngine final : public Engine {
 public:
  CaptureEngine(const Tokenizer& tokenizer, std::string chat_template, int max_model_len)
      : tokenizer_(tokenizer), chat_template_(std::move(chat_template)), max_model_len_(max_model_len) {}

  Status submit(GenerationRequest request, OutputCallback on_output) override;
  void add_lora(LoraRef, std::shared_ptr<const LoraAdapter>) override {}
  void abort(const std::string&) override {}
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  const std::string& chat_template() const override { return chat_template_; }
  int max_model_len() const override { return max_model_len_; }
  EngineStats stats() const override { return {}; }
  Status audit() const override { return ok_status(); }
  void shutdown() override {}

 private:
  const Tokenizer& tokenizer_;
  std::string chat_template_;
  int max_model_len_;
};

}  // namespace podserve::fuzz

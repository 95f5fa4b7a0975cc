// The serial engine: one thread takes requests in arrival order and runs each to completion.
#include "engine/engine.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/rng.h"
#include "engine/generation.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"

namespace podserve {
namespace {

struct Pending {
  GenerationRequest request;
  OutputCallback on_output;
};

class SerialEngine final : public Engine {
 public:
  SerialEngine(std::unique_ptr<LoadedModel> model, const EngineConfig& config)
      : model_(std::move(model)), config_(config), seed_rng_(config.seed) {
    max_model_len_ = config.max_model_len > 0 ? config.max_model_len : model_->context_length();
    cache_ = model_->lm().new_cache(max_model_len_);
    thread_ = std::thread([this] { run(); });
  }
  ~SerialEngine() override { shutdown(); }

  Status submit(GenerationRequest request, OutputCallback on_output) override {
    PODSERVE_RETURN_IF_ERROR(validate_request(request, max_model_len_, model_->tokenizer().vocab_size()));
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return unavailable("the engine is shutting down");
    if (static_cast<int>(queue_.size()) + (busy_ ? 1 : 0) >= config_.max_num_seqs) {
      return resource_exhausted("too many requests in flight (max_num_seqs=" + std::to_string(config_.max_num_seqs) + ")");
    }
    queue_.push_back({std::move(request), std::move(on_output)});
    cv_.notify_one();
    return ok_status();
  }

  void abort(const std::string& request_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    // Only live requests are marked, so aborting a finished one leaves nothing behind.
    const bool queued = std::any_of(queue_.begin(), queue_.end(),
                                    [&](const Pending& p) { return p.request.request_id == request_id; });
    if (queued || (busy_ && running_id_ == request_id)) aborted_.insert(request_id);
  }

  const Tokenizer& tokenizer() const override { return model_->tokenizer(); }
  const std::string& chat_template() const override { return model_->chat_template(); }
  int max_model_len() const override { return max_model_len_; }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ && !thread_.joinable()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    for (;;) {
      Pending job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping
        job = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        running_id_ = job.request.request_id;
        if (stopping_) aborted_.insert(job.request.request_id);
      }
      const std::string id = job.request.request_id;
      auto is_aborted = [this, &id] {
        std::lock_guard<std::mutex> lock(mutex_);
        return stopping_ || aborted_.count(id) != 0;
      };
      Rng rng(job.request.params.seed ? *job.request.params.seed : seed_rng_.next_u64());
      Generation generation(model_->lm(), model_->tokenizer(), *cache_, std::move(job.request), std::move(job.on_output));
      generation.run(rng, sampler_, is_aborted);
      std::lock_guard<std::mutex> lock(mutex_);
      aborted_.erase(id);
      busy_ = false;
    }
  }

  std::unique_ptr<LoadedModel> model_;
  EngineConfig config_;
  int max_model_len_ = 0;
  std::unique_ptr<KvCache> cache_;
  Sampler sampler_;
  Rng seed_rng_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::set<std::string> aborted_;
  bool busy_ = false;
  std::string running_id_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(std::unique_ptr<LoadedModel> model, const EngineConfig& config) {
  if (model == nullptr) return invalid_argument("Engine::create: no model");
  if (config.max_model_len < 0) return invalid_argument("max_model_len must be >= 0");
  if (config.max_model_len > model->context_length()) {
    return invalid_argument("max_model_len " + std::to_string(config.max_model_len) +
                            " is larger than the model's context length " + std::to_string(model->context_length()));
  }
  if (config.max_num_seqs < 1) return invalid_argument("max_num_seqs must be >= 1");
  return std::unique_ptr<Engine>(new SerialEngine(std::move(model), config));
}

}  // namespace podserve

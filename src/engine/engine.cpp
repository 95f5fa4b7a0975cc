// The batching engine: an inbox for submissions and aborts, and one loop thread that runs steps.
#include "engine/engine.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/log.h"
#include "engine/beam_search.h"
#include "engine/engine_loop.h"
#include "engine/validate.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"

namespace podserve {
namespace {

class BatchingEngine final : public Engine {
 public:
  explicit BatchingEngine(std::unique_ptr<EngineLoop> loop) : loop_(std::move(loop)) {
    stats_ = loop_->stats();  // before the first step: the counters that exist from the start (spec decode's)
    loop_->set_wake([this] {
      std::lock_guard<std::mutex> lock(mutex_);
      cv_.notify_one();
    });
    thread_ = std::thread([this] { run(); });
  }
  ~BatchingEngine() override { shutdown(); }

  Status submit(GenerationRequest request, OutputCallback on_output) override {
    PODSERVE_RETURN_IF_ERROR(validate_request(request, loop_->max_model_len(), loop_->tokenizer().vocab_size(),
                                              loop_->config().speculative.enabled()));
    if ((request.lora || request.lora_ref) && !loop_->supports_lora()) {
      return unimplemented("LoRA adapters are not supported by this model's backend");
    }
    const SamplingParams& p = request.params;
    const int max_logprobs = loop_->config().max_logprobs;
    if ((p.logprobs && *p.logprobs > max_logprobs) || (p.prompt_logprobs && *p.prompt_logprobs > max_logprobs)) {
      return invalid_argument("Requested logprobs exceed the maximum allowed value of " + std::to_string(max_logprobs));
    }
    if (p.use_beam_search && 2 * p.n > max_logprobs) {  // each step asks for 2 * width logprobs, as vLLM's
      return invalid_argument("Requested logprobs exceed the maximum allowed value of " + std::to_string(max_logprobs));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return unavailable("the engine is shutting down");
    if (unfinished_ >= loop_->config().max_queued_requests) {
      return resource_exhausted("too many requests in flight (" + std::to_string(unfinished_) + ")");
    }
    ++unfinished_;
    if (p.use_beam_search) {
      auto search = std::make_shared<BeamSearch>(std::move(request), loop_->tokenizer(), std::move(on_output));
      beam_searches_[search->request_id()] = search;
      queue_beam_step(search);
      cv_.notify_one();
      return ok_status();
    }
    auto wrapped = [this, cb = std::move(on_output), candidates = std::max(p.n, p.best_of), seen = 0,
                    n = p.n, holds = p.best_of > p.n](GenerationOutput out) mutable {
      // Free the slot before the caller hears of the end, so a caller that submits again right away fits.
      if (out.finished && ++seen == (holds ? n : candidates)) {
        std::lock_guard<std::mutex> l(mutex_);
        --unfinished_;
      }
      cb(std::move(out));
    };
    inbox_.push_back({std::move(request), std::move(wrapped)});
    cv_.notify_one();
    return ok_status();
  }

  void add_lora(LoraRef ref, std::shared_ptr<const LoraAdapter> adapter) override {
    std::lock_guard<std::mutex> lock(mutex_);
    inbox_.push_back({{}, {}, EngineLoop::LoraHandover{std::move(ref), std::move(adapter)}});
    cv_.notify_one();
  }

  void abort(const std::string& request_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    aborts_.push_back(request_id);
    cv_.notify_one();
  }

  const Tokenizer& tokenizer() const override { return loop_->tokenizer(); }
  const std::string& chat_template() const override { return loop_->chat_template(); }
  int max_model_len() const override { return loop_->max_model_len(); }

  EngineStats stats() const override {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    return stats_;
  }

  Status audit() const override {
    std::lock_guard<std::mutex> lock(step_mutex_);
    return loop_->audit();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    loop_->stop_compiling();
  }

 private:
  void run() {
    for (;;) {
      std::vector<EngineLoop::Submission> submissions;
      std::vector<std::string> aborts;
      bool stopping;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !inbox_.empty() || !aborts_.empty() || loop_->has_work(); });
        submissions.swap(inbox_);
        aborts.swap(aborts_);
        stopping = stopping_;
      }
      std::lock_guard<std::mutex> step_lock(step_mutex_);
      for (auto& s : submissions) loop_->add_request(std::move(s));
      for (const auto& id : aborts) abort_beam_search(id);
      for (const auto& id : aborts) loop_->abort_request(id, FinishReason::kAbort);
      if (stopping) {
        loop_->abort_all();
        return;
      }
      if (loop_->has_work()) loop_->step();
      std::lock_guard<std::mutex> stats_lock(stats_mutex_);
      stats_ = loop_->stats();
    }
  }

  /// Puts the requests of `search`'s current step in the inbox (mutex_ held). Their callbacks run on the engine
  /// thread, which holds step_mutex_ but not mutex_, so the next step is queued from there.
  void queue_beam_step(const std::shared_ptr<BeamSearch>& search) {
    std::vector<GenerationRequest> step = search->step_requests();
    for (size_t i = 0; i < step.size(); ++i) {
      auto on_beam = [this, search, beam = static_cast<int>(i)](GenerationOutput out) {
        if (!search->record(beam, std::move(out))) return;
        const bool done = search->advance();
        std::lock_guard<std::mutex> lock(mutex_);
        if (done) {
          beam_searches_.erase(search->request_id());
          --unfinished_;
        } else {
          queue_beam_step(search);
        }
      };
      inbox_.push_back({std::move(step[i]), std::move(on_beam)});
    }
  }

  /// On the engine thread: a beam search called `id` stops after its current step, whose requests are aborted.
  void abort_beam_search(const std::string& id) {
    std::shared_ptr<BeamSearch> search;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = beam_searches_.find(id);
      if (it == beam_searches_.end()) return;
      search = it->second;
    }
    search->request_abort();
    const std::vector<std::string> ids = search->step_ids();
    for (const std::string& step_id : ids) loop_->abort_request(step_id, FinishReason::kAbort);
  }

  std::unique_ptr<EngineLoop> loop_;
  mutable std::mutex mutex_;  // guards the inbox, aborts, counters below
  std::condition_variable cv_;
  std::vector<EngineLoop::Submission> inbox_;
  std::vector<std::string> aborts_;
  int unfinished_ = 0;
  std::unordered_map<std::string, std::shared_ptr<BeamSearch>> beam_searches_;  // by request id
  bool stopping_ = false;
  mutable std::mutex step_mutex_;   // held while the loop mutates its state
  mutable std::mutex stats_mutex_;
  EngineStats stats_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(std::unique_ptr<LoadedModel> model, const EngineConfig& config,
                                               std::unique_ptr<LoadedModel> draft) {
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<EngineLoop> loop,
                            EngineLoop::create(std::move(model), config, std::move(draft)));
  return std::unique_ptr<Engine>(new BatchingEngine(std::move(loop)));
}

}  // namespace podserve

// Shared by the engine tests: the tiny model (tests/data/tiny-llama.gguf, written by tools/goldens/tiny_model.py),
// an engine on it, and a thread-safe collector of request outputs (callbacks run on the engine thread).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/loaded_model.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define PODSERVE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PODSERVE_TEST_ASAN 1
#endif
#endif
#ifndef PODSERVE_TEST_ASAN
#define PODSERVE_TEST_ASAN 0
#endif

namespace podserve::engine_test {

// Generous: a hang should fail the test, not a slow sanitizer build.
constexpr auto kWaitTimeout = std::chrono::seconds(120);

inline std::string tiny_model_path() { return podserve::testing::test_data_dir() + "/tiny-llama.gguf"; }

/// One thread by default: the model is so small that a pool would only add synchronisation.
inline std::unique_ptr<LoadedModel> load_tiny_model(int num_threads = 1) {
  LoadOptions options;
  options.show_progress = false;
  options.num_threads = num_threads;
  Result<std::unique_ptr<LoadedModel>> model = load_model(tiny_model_path(), options);
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  return model.ok() ? std::move(*model) : nullptr;
}

inline std::unique_ptr<Engine> make_engine(const EngineConfig& config, int num_threads = 1) {
  std::unique_ptr<LoadedModel> model = load_tiny_model(num_threads);
  if (model == nullptr) return nullptr;
  Result<std::unique_ptr<Engine>> engine = Engine::create(std::move(model), config);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? std::move(*engine) : nullptr;
}

/// What one output index of a request received, concatenated over its updates.
struct SeqResult {
  std::vector<int32_t> tokens;
  std::string text;
  std::vector<TokenLogprobs> logprobs;
  std::vector<TokenLogprobs> prompt_logprobs;
  int updates = 0;
  int prompt_logprobs_updates = 0;  // updates that carried prompt logprobs (must be the first, once)
  int finished = 0;  // how many updates said finished (must end up 1)
  FinishReason finish_reason = FinishReason::kNone;
  std::variant<std::monostate, std::string, int32_t> stop_reason;
  int completion_tokens = 0;
  int cached_tokens = 0;
  Status error;
};

struct RequestResult {
  std::map<int, SeqResult> seqs;  // by output index
  int expected_finals = 0;
  int finals = 0;
  int late_updates = 0;  // updates for an index after its finished update, or beyond expected_finals
  bool done() const { return finals >= expected_finals; }
};

/// Collects the outputs of many requests; wait() blocks until requests are done or the timeout passes.
class Collector {
 public:
  /// A callback for request `id` that is done after `expected_finals` finished updates (n).
  OutputCallback callback(const std::string& id, int expected_finals) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      results_[id].expected_finals = expected_finals;
    }
    return [this, id](GenerationOutput out) { on_output(id, std::move(out)); };
  }

  /// Waits until every registered request is done. False on timeout.
  bool wait_all(std::chrono::seconds timeout = kWaitTimeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] {
      for (const auto& [id, r] : results_) {
        if (!r.done()) return false;
      }
      return true;
    });
  }

  bool wait(const std::string& id, std::chrono::seconds timeout = kWaitTimeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return results_[id].done(); });
  }

  RequestResult get(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return results_[id];
  }

  std::map<std::string, RequestResult> all() {
    std::lock_guard<std::mutex> lock(mutex_);
    return results_;
  }

 private:
  void on_output(const std::string& id, GenerationOutput out) {
    std::lock_guard<std::mutex> lock(mutex_);
    RequestResult& r = results_[id];
    SeqResult& s = r.seqs[out.index];
    if (s.finished > 0 || r.done()) ++r.late_updates;
    ++s.updates;
    s.tokens.insert(s.tokens.end(), out.token_ids.begin(), out.token_ids.end());
    s.text += out.text_delta;
    s.logprobs.insert(s.logprobs.end(), out.logprobs.begin(), out.logprobs.end());
    if (!out.prompt_logprobs.empty()) {
      ++s.prompt_logprobs_updates;
      s.prompt_logprobs = std::move(out.prompt_logprobs);
    }
    s.completion_tokens = out.completion_tokens;
    s.cached_tokens = out.cached_tokens;
    if (out.finished) {
      ++s.finished;
      ++r.finals;
      s.finish_reason = out.finish_reason;
      s.stop_reason = std::move(out.stop_reason);
      s.error = out.error;
      if (r.done()) cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, RequestResult> results_;
};

/// Submits one request and waits for it; fails the test (and returns what arrived) on an error or a timeout.
inline RequestResult run_request(Engine& engine, const std::vector<int32_t>& prompt, const SamplingParams& params,
                                 const std::string& id = "req") {
  Collector collector;
  GenerationRequest request{id, prompt, params};
  const Status st = engine.submit(std::move(request), collector.callback(id, params.n));
  EXPECT_TRUE(st.ok()) << st.to_string();
  if (!st.ok()) return {};
  EXPECT_TRUE(collector.wait(id)) << "request " << id << " timed out";
  return collector.get(id);
}

/// After a run: every KV invariant holds and nothing is left running or holding blocks. audit() waits for the
/// engine's current step, and the stats snapshot is taken at the end of that step, so stats() is fresh after it.
inline void expect_idle(const Engine& engine) {
  const Status audit = engine.audit();
  EXPECT_TRUE(audit.ok()) << audit.to_string();
  const EngineStats stats = engine.stats();
  EXPECT_EQ(stats.num_running, 0);
  EXPECT_EQ(stats.num_waiting, 0);
  EXPECT_EQ(stats.kv_cache_usage, 0.0);
}

}  // namespace podserve::engine_test

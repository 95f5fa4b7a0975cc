// Many short random requests from two threads with random aborts: every request must get exactly its n
// finished updates, nothing after them, and the engine must end idle with a consistent KV cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine_test_util.h"

namespace podserve {
namespace {

// The issue asks for 10,000 (release and ASan: ~20 s there). Under ThreadSanitizer (GCC defines __SANITIZE_THREAD__)
// 10,000 cost 219 CPU-s, most of the tsan tier. 2,000 still fill the 200-request window ten times over, with the
// same two submitter threads, aborts, preemption and forks against the engine thread: TSan usually flags a race the first
// time two unordered accesses to one location happen (it checks happens-before, it does not need the bad
// interleaving), so what matters is that each code path runs hundreds of times, not the request count.
#if defined(__SANITIZE_THREAD__)
constexpr int kNumRequests = 2000;
#else
constexpr int kNumRequests = 10000;
#endif
constexpr int kMaxInFlight = 200;
constexpr int kNumStems = 4;

struct Track {
  int n = 1;
  std::vector<int> finals;  // per index
  int total_finals = 0;
  bool aborted = false;     // we asked for an abort (a kAbort finish is expected only then)
};

// Bookkeeping shared by the submitting threads and the engine thread's callbacks.
class Tracker {
 public:
  bool acquire_slot() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cv_.wait_for(lock, engine_test::kWaitTimeout, [this] { return in_flight_.size() < kMaxInFlight; })) return false;
    return true;
  }
  void start(const std::string& id, int n) {
    std::lock_guard<std::mutex> lock(mutex_);
    Track& t = tracks_[id];
    t.n = n;
    t.finals.assign(static_cast<size_t>(n), 0);
    in_flight_.push_back(id);
  }
  void cancel(const std::string& id) {  // submit() refused it: no callbacks will come
    std::lock_guard<std::mutex> lock(mutex_);
    tracks_.erase(id);
    in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), id));
    cv_.notify_all();
  }
  void on_output(const std::string& id, const GenerationOutput& out) {
    std::lock_guard<std::mutex> lock(mutex_);
    Track& t = tracks_[id];
    if (out.index < 0 || out.index >= t.n) return fail(id + ": output index " + std::to_string(out.index));
    if (t.finals[static_cast<size_t>(out.index)] > 0) return fail(id + ": update after its finish");
    if (out.finish_reason == FinishReason::kError) return fail(id + ": error " + out.error.to_string());
    if (out.finish_reason == FinishReason::kAbort && !t.aborted) return fail(id + ": aborted unasked");
    if (!out.finished) return;
    ++t.finals[static_cast<size_t>(out.index)];
    if (++t.total_finals == t.n) {
      in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), id));
      finished_.push_back(id);
      cv_.notify_all();
    }
  }
  /// A random in-flight id (marked as aborted), a finished one, or "" if there is none.
  std::string pick(std::mt19937& gen, bool in_flight) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::vector<std::string>& from = in_flight ? in_flight_ : finished_;
    if (from.empty()) return "";
    const std::string id = from[gen() % from.size()];
    if (in_flight) tracks_[id].aborted = true;
    return id;
  }
  bool wait_idle() {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, engine_test::kWaitTimeout, [this] { return in_flight_.empty(); });
  }
  std::unordered_map<std::string, Track> tracks() {
    std::lock_guard<std::mutex> lock(mutex_);
    return tracks_;
  }
  std::vector<std::string> failures() {
    std::lock_guard<std::mutex> lock(mutex_);
    return failures_;
  }

 private:
  void fail(const std::string& what) {
    if (failures_.size() < 20) failures_.push_back(what);
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Track> tracks_;
  std::vector<std::string> in_flight_, finished_, failures_;
};

SamplingParams random_params(std::mt19937& gen) {
  auto pick = [&](auto... values) {
    const std::vector<std::common_type_t<decltype(values)...>> v{values...};
    return v[gen() % v.size()];
  };
  SamplingParams p;
  p.n = 1 + static_cast<int>(gen() % 3);
  p.best_of = gen() % 5 == 0 ? p.n + 1 : p.n;
  p.temperature = pick(0.0f, 0.5f, 1.0f, 1.3f);
  p.top_p = pick(1.0f, 0.9f, 0.5f);
  p.top_k = pick(0, 5, 50);
  p.min_p = pick(0.0f, 0.05f);
  p.presence_penalty = pick(0.0f, 0.5f);
  p.frequency_penalty = pick(0.0f, 0.3f);
  p.repetition_penalty = pick(1.0f, 1.2f);
  if (gen() % 2 == 0) p.seed = gen();
  if (gen() % 5 == 0) p.logprobs = static_cast<int>(gen() % 6);
  if (gen() % 10 == 0) p.prompt_logprobs = static_cast<int>(gen() % 4);
  p.max_tokens = 1 + static_cast<int>(gen() % 12);
  p.min_tokens = static_cast<int>(gen() % (std::min(3, p.max_tokens) + 1));
  if (gen() % 10 == 0) p.stop = {pick(std::string("e"), std::string("th"), std::string(" a"))};
  if (gen() % 10 == 0) p.stop_token_ids = {static_cast<int32_t>(gen() % 299)};
  p.ignore_eos = gen() % 2 == 0;
  if (gen() % 20 == 0) p.logit_bias = {{static_cast<int32_t>(gen() % 299), 5.0f}};
  return p;
}

TEST(EngineStressTest, RandomRequestsWithAborts) {
  Tracker tracker;  // declared first: it must outlive the engine, whose shutdown may still call back
  EngineConfig config;
  config.max_model_len = 64;  // 40 prompt + 12 output tokens at most
  config.num_kv_blocks = 60;  // tight: preemption (with forks and aborts) happens too
  std::unique_ptr<Engine> engine = engine_test::make_engine(config);
  ASSERT_NE(engine, nullptr);

  std::mt19937 stem_gen(99);
  std::vector<std::vector<int32_t>> stems(kNumStems);
  for (auto& stem : stems) {
    for (int i = 0; i < 24; ++i) stem.push_back(static_cast<int32_t>(stem_gen() % 296));
  }
  std::atomic<int> refused{0}, submit_errors{0}, aborts{0};
  const auto t0 = std::chrono::steady_clock::now();
  auto submitter = [&](int thread) {
    std::mt19937 gen(static_cast<uint32_t>(1000 + thread));
    for (int i = thread; i < kNumRequests; i += 2) {
      if (!tracker.acquire_slot()) {
        ++submit_errors;
        return;
      }
      std::vector<int32_t> prompt;
      const int len = static_cast<int>(gen() % 41);
      if (gen() % 2 == 0) prompt = stems[gen() % kNumStems];
      prompt.resize(std::min(prompt.size(), static_cast<size_t>(len)));
      while (static_cast<int>(prompt.size()) < len) prompt.push_back(static_cast<int32_t>(gen() % 299));
      const SamplingParams p = random_params(gen);
      const std::string id = "s" + std::to_string(i);
      const int expected = p.n;
      tracker.start(id, expected);
      const Status st = engine->submit({id, prompt, p}, [&tracker, id](GenerationOutput out) { tracker.on_output(id, out); });
      if (!st.ok()) {
        tracker.cancel(id);
        if (prompt.empty() && st.code() == StatusCode::kInvalidArgument) {
          ++refused;
        } else {
          ++submit_errors;
        }
      }
      const uint32_t roll = gen() % 100;
      if (roll < 10) {
        const std::string victim = tracker.pick(gen, /*in_flight=*/true);
        if (!victim.empty()) {
          engine->abort(victim);
          ++aborts;
        }
      } else if (roll < 12) {
        engine->abort(tracker.pick(gen, /*in_flight=*/false));  // finished already (or ""): ignored
      } else if (roll < 13) {
        engine->abort("unknown-" + std::to_string(i));
      }
    }
  };
  std::thread a(submitter, 0), b(submitter, 1);
  a.join();
  b.join();
  ASSERT_TRUE(tracker.wait_idle()) << "requests still in flight after the timeout";
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  for (const std::string& f : tracker.failures()) ADD_FAILURE() << f;
  EXPECT_EQ(submit_errors.load(), 0);
  const auto tracks = tracker.tracks();
  EXPECT_EQ(static_cast<int>(tracks.size()) + refused.load(), kNumRequests);
  for (const auto& [id, t] : tracks) {
    EXPECT_EQ(t.total_finals, t.n) << id;
    for (int f : t.finals) EXPECT_EQ(f, 1) << id;
  }
  // Late aborts of finished and unknown ids must be harmless; give the engine a moment to process them.
  engine->abort("unknown-final");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  engine_test::expect_idle(*engine);
  const EngineStats stats = engine->stats();
  EXPECT_GT(stats.prefix_cache_hits, 0);
  EXPECT_GT(stats.num_preemptions, 0);
  std::printf("stress: %d requests (%d refused as empty, %d aborts asked) in %.2f s; %lld steps, %lld preemptions, "
              "max batch %d, %lld generated tokens\n",
              kNumRequests, refused.load(), aborts.load(), seconds, static_cast<long long>(stats.steps),
              static_cast<long long>(stats.num_preemptions), stats.max_batch_sequences,
              static_cast<long long>(stats.generation_tokens));
  engine->shutdown();
}

// A second request with an id already in flight fails, with one final update per output index it asked for,
// and must not keep a queue slot.
TEST(EngineLifecycleTest, DuplicateIdFailsEveryIndexAndFreesItsSlot) {
  EngineConfig config;
  config.num_kv_blocks = 64;
  config.max_queued_requests = 2;
  std::unique_ptr<Engine> engine = engine_test::make_engine(config);
  ASSERT_NE(engine, nullptr);
  engine_test::Collector first, dup;
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_tokens = 400;
  p.ignore_eos = true;
  ASSERT_TRUE(engine->submit({"x", {1, 2, 3}, p}, first.callback("x", 1)).ok());
  p.n = p.best_of = 2;
  ASSERT_TRUE(engine->submit({"x", {4, 5}, p}, dup.callback("x", 2)).ok());
  ASSERT_TRUE(dup.wait("x"));
  const engine_test::RequestResult d = dup.get("x");
  ASSERT_EQ(d.seqs.size(), 2u);
  for (const auto& [index, s] : d.seqs) {
    EXPECT_EQ(s.finished, 1) << index;
    EXPECT_EQ(s.finish_reason, FinishReason::kError);
    EXPECT_FALSE(s.error.ok());
  }
  ASSERT_TRUE(first.wait("x"));
  // Both slots are free again.
  engine_test::Collector more;
  p.n = p.best_of = 1;
  p.max_tokens = 4;
  EXPECT_TRUE(engine->submit({"y", {1}, p}, more.callback("y", 1)).ok());
  EXPECT_TRUE(engine->submit({"z", {2}, p}, more.callback("z", 1)).ok());
  EXPECT_TRUE(more.wait_all());
  engine_test::expect_idle(*engine);
}

// Shutdown ends every pending request (kAbort, once per index) and refuses new ones.
TEST(EngineLifecycleTest, ShutdownAbortsPending) {
  engine_test::Collector collector;  // outlives the engine
  EngineConfig config;
  config.num_kv_blocks = 64;
  std::unique_ptr<Engine> engine = engine_test::make_engine(config);
  ASSERT_NE(engine, nullptr);
  SamplingParams p;
  p.max_tokens = 400;
  p.ignore_eos = true;
  for (int i = 0; i < 6; ++i) {
    p.n = 1 + i % 3;
    p.best_of = p.n + i % 2;
    const std::string id = "q" + std::to_string(i);
    ASSERT_TRUE(engine->submit({id, {static_cast<int32_t>(i + 1), 7}, p}, collector.callback(id, p.n)).ok());
  }
  engine->shutdown();
  ASSERT_TRUE(collector.wait_all(std::chrono::seconds(1)));  // shutdown() returned: everything was sent
  for (const auto& [id, r] : collector.all()) {
    EXPECT_EQ(r.late_updates, 0) << id;
    for (const auto& [index, s] : r.seqs) {
      EXPECT_EQ(s.finished, 1) << id << "/" << index;
      EXPECT_EQ(s.finish_reason, FinishReason::kAbort) << id << "/" << index;
    }
  }
  EXPECT_EQ(engine->submit({"late", {1}, p}, collector.callback("late2", 0)).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace podserve

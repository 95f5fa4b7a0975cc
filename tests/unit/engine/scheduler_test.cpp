// Step tests of schedule(): hand-made sequences and a real KvCacheManager; the test plays the engine's part
// (marks chunks computed and appends a sampled token when a sequence reaches its end).
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include "engine_test_util.h"
#include "model/lora.h"

namespace podserve {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = engine_test::load_tiny_model();  // only for a Tokenizer, which Sequence needs
    ASSERT_NE(model_, nullptr);
  }

  void make_kv(int num_blocks, int block_size, bool prefix_caching = false) {
    kv_ = std::make_unique<KvCacheManager>(KvCacheConfig{num_blocks, block_size, prefix_caching});
  }

  /// A new sequence with a distinct prompt of `len` tokens, queued as the engine queues it (fcfs: at the back).
  Sequence* add(int len, int priority = 0) {
    auto r = std::make_unique<RequestState>();
    r->request.request_id = "r" + std::to_string(requests_.size());
    r->request.params.priority = priority;
    r->arrival = Clock::now() + std::chrono::microseconds(requests_.size());  // strictly in order
    for (int i = 0; i < len; ++i) r->request.prompt_tokens.push_back(static_cast<int32_t>((requests_.size() * 37 + i) % 290));
    r->sequences.push_back(std::make_unique<Sequence>(next_id_++, r.get(), 0, r->request.prompt_tokens, 0,
                                                      model_->tokenizer(), r->request.params));
    Sequence* seq = r->sequences[0].get();
    enqueue_waiting(config_, waiting_, seq, /*preempted=*/false);
    requests_.push_back(std::move(r));
    return seq;
  }

  SchedulerOutput step() {
    SchedulerOutput out = schedule(config_, running_, waiting_, *kv_);
    for (const ScheduledChunk& c : out.chunks) {
      EXPECT_GT(c.num_tokens, 0);
      c.seq->num_computed += c.num_tokens;
      EXPECT_LE(c.seq->num_computed, c.seq->num_tokens());
      kv_->mark_computed(c.seq->id, c.seq->tokens, c.seq->num_computed);
      if (c.seq->num_computed == c.seq->num_tokens()) c.seq->tokens.push_back(7);  // "sampled"
    }
    const Status audit = kv_->audit();
    EXPECT_TRUE(audit.ok()) << audit.to_string();
    return out;
  }

  void finish(Sequence* seq) {
    kv_->free(seq->id);
    seq->status = SeqStatus::kFinished;
    running_.erase(std::find(running_.begin(), running_.end(), seq));
  }

  static std::vector<std::pair<Sequence*, int>> chunks(const SchedulerOutput& out) {
    std::vector<std::pair<Sequence*, int>> v;
    for (const ScheduledChunk& c : out.chunks) v.emplace_back(c.seq, c.num_tokens);
    return v;
  }
  using Chunks = std::vector<std::pair<Sequence*, int>>;

  std::unique_ptr<LoadedModel> model_;
  std::unique_ptr<KvCacheManager> kv_;
  std::vector<std::unique_ptr<RequestState>> requests_;
  SchedulerConfig config_;
  std::vector<Sequence*> running_;
  std::deque<Sequence*> waiting_;
  SeqId next_id_ = 1;
};

TEST_F(SchedulerTest, RunningDecodesFirstThenWaitingPrefillChunks) {
  make_kv(64, 16);
  config_.max_num_batched_tokens = 10;
  Sequence* a = add(5);
  Sequence* b = add(4);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 5}, {b, 4}}));  // both prompts fit the budget of 10
  EXPECT_EQ(running_.size(), 2u);
  Sequence* c = add(50);
  // Decodes of a and b (1 token each) come first; c's prompt gets what is left of the budget.
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}, {b, 1}, {c, 8}}));
  EXPECT_EQ(c->num_computed, 8);
  EXPECT_EQ(c->status, SeqStatus::kRunning);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}, {b, 1}, {c, 8}}));
  EXPECT_EQ(c->num_computed, 16);
}

TEST_F(SchedulerTest, MaxNumSeqsCapsAdmission) {
  make_kv(64, 16);
  config_.max_num_seqs = 2;
  Sequence* a = add(3);
  Sequence* b = add(3);
  Sequence* c = add(3);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 3}, {b, 3}}));
  EXPECT_EQ(waiting_.front(), c);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}, {b, 1}}));  // still full
  finish(a);
  EXPECT_EQ(chunks(step()), (Chunks{{b, 1}, {c, 3}}));
  EXPECT_TRUE(waiting_.empty());
}

// MAX_LORAS as vLLM's scheduler: a waiting request whose adapter would make one too many this step is skipped
// (it keeps its place); requests behind it with the base model or an adapter already running are admitted.
TEST_F(SchedulerTest, MaxLorasSkipsRequestsOfOneAdapterTooMany) {
  make_kv(64, 16);
  config_.max_loras = 1;
  const auto x = std::make_shared<LoraAdapter>(), y = std::make_shared<LoraAdapter>();
  auto with = [&](Sequence* seq, const std::shared_ptr<LoraAdapter>& lora) {
    requests_.back()->request.lora = lora;
    return seq;
  };
  Sequence* a = with(add(3), x);
  Sequence* b = with(add(3), y);
  Sequence* c = add(3);
  Sequence* d = with(add(3), x);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 3}, {c, 3}, {d, 3}}));
  ASSERT_EQ(waiting_.size(), 1u);
  EXPECT_EQ(waiting_.front(), b);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}, {c, 1}, {d, 1}}));  // x still runs: b waits
  finish(a);
  finish(d);
  EXPECT_EQ(chunks(step()), (Chunks{{c, 1}, {b, 3}}));  // x is gone: y fits
  config_.max_loras = 0;  // no limit
  Sequence* e = with(add(3), x);
  EXPECT_EQ(chunks(step()), (Chunks{{c, 1}, {b, 1}, {e, 3}}));
}

TEST_F(SchedulerTest, LongPromptIsChunkedAcrossSteps) {
  make_kv(64, 16);
  config_.max_num_batched_tokens = 32;
  Sequence* a = add(100);
  for (int expected : {32, 32, 32, 4}) {
    const SchedulerOutput out = step();
    ASSERT_EQ(out.chunks.size(), 1u);
    EXPECT_EQ(out.chunks[0].num_tokens, expected);
  }
  EXPECT_TRUE(a->prefill_done());
  EXPECT_EQ(a->num_tokens(), 101);  // the last chunk produced a token
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}}));
}

TEST_F(SchedulerTest, WithoutChunkingATooLongPromptWaits) {
  make_kv(64, 16);
  config_.max_num_batched_tokens = 32;
  config_.enable_chunked_prefill = false;
  Sequence* a = add(20);
  Sequence* b = add(20);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 20}}));  // b does not fit the rest of the budget and is not split
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}, {b, 20}}));
}

TEST_F(SchedulerTest, PreemptsTheNewestWhenBlocksRunOut) {
  make_kv(6, 4);  // 24 token slots
  Sequence* a = add(8);  // 2 blocks
  Sequence* b = add(4);  // 1 block
  Sequence* c = add(8);  // 2 blocks
  EXPECT_EQ(chunks(step()), (Chunks{{a, 8}, {b, 4}, {c, 8}}));
  EXPECT_EQ(kv_->num_free_blocks(), 1);
  Sequence* d = add(2);  // waiting behind; must not be admitted in a step that preempts
  // a's 9th token takes the last free block; b's 5th needs one more: the newest running (c) is preempted.
  const SchedulerOutput out = step();
  EXPECT_EQ(chunks(out), (Chunks{{a, 1}, {b, 1}}));
  EXPECT_EQ(out.preempted, std::vector<Sequence*>{c});
  EXPECT_EQ(running_, (std::vector<Sequence*>{a, b}));
  ASSERT_EQ(waiting_.size(), 2u);
  EXPECT_EQ(waiting_[0], c);  // front of the queue: it resumes first
  EXPECT_EQ(waiting_[1], d);
  EXPECT_EQ(c->num_computed, 0);
  EXPECT_EQ(c->status, SeqStatus::kWaiting);
  EXPECT_EQ(c->num_tokens(), 9);  // its sampled token is kept and recomputed with the prompt
  EXPECT_EQ(kv_->block_table(c->id).size(), 0u);
  // c needs 3 blocks, only 1 is free: nobody is admitted (FIFO, d waits behind c).
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}, {b, 1}}));
  finish(a);
  // Recompute: c's whole 9 tokens run as one chunk, then d is admitted behind it.
  EXPECT_EQ(chunks(step()), (Chunks{{b, 1}, {c, 9}, {d, 2}}));
  EXPECT_EQ(c->num_tokens(), 10);
}

TEST_F(SchedulerTest, PreemptsItselfWhenItIsTheNewest) {
  make_kv(4, 4);
  Sequence* a = add(7);
  Sequence* b = add(8);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 7}, {b, 8}}));
  EXPECT_EQ(kv_->num_free_blocks(), 0);
  // a's 8th token fits its second block; b's 9th needs a third, and b is the newest: it preempts itself.
  const SchedulerOutput out = step();
  EXPECT_EQ(chunks(out), (Chunks{{a, 1}}));
  EXPECT_EQ(out.preempted, std::vector<Sequence*>{b});
  EXPECT_EQ(waiting_.front(), b);
}

// vLLM's priority policy (vllm/v1/core/sched/): waiting requests in (priority, arrival) order, lower first;
// preemption evicts the running request with the largest (priority, arrival), not simply the newest.
TEST_F(SchedulerTest, PriorityOrdersAdmission) {
  make_kv(64, 16);
  config_.priority = true;
  config_.max_num_seqs = 1;
  Sequence* a = add(4, /*priority=*/5);
  Sequence* b = add(4, /*priority=*/0);
  Sequence* c = add(4, /*priority=*/5);
  Sequence* d = add(4, /*priority=*/-1);
  EXPECT_EQ(waiting_, (std::deque<Sequence*>{d, b, a, c}));
  EXPECT_EQ(chunks(step()), (Chunks{{d, 4}}));
  finish(d);
  EXPECT_EQ(chunks(step()), (Chunks{{b, 4}}));
}

TEST_F(SchedulerTest, FcfsIgnoresPriority) {
  make_kv(64, 16);
  Sequence* a = add(4, 5);
  Sequence* b = add(4, 0);
  EXPECT_EQ(waiting_, (std::deque<Sequence*>{a, b}));
}

TEST_F(SchedulerTest, PriorityPreemptsTheLowestPriorityNotTheNewest) {
  make_kv(6, 4);  // 24 token slots
  config_.priority = true;
  Sequence* a = add(8, /*priority=*/0);
  Sequence* b = add(4, /*priority=*/2);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 8}, {b, 4}}));
  Sequence* c = add(3, /*priority=*/1);  // the newest
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}, {b, 1}, {c, 3}}));
  EXPECT_EQ(kv_->num_free_blocks(), 0);
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}, {b, 1}, {c, 1}}));  // every token fits its last block
  // c's 5th token needs a block: fcfs would preempt c (the newest); priority preempts b (priority 2), whose
  // chunk of this step is dropped, and c gets its blocks.
  const SchedulerOutput out = step();
  EXPECT_EQ(out.preempted, std::vector<Sequence*>{b});
  EXPECT_EQ(chunks(out), (Chunks{{a, 1}, {c, 1}}));
  EXPECT_EQ(running_, (std::vector<Sequence*>{a, c}));
  EXPECT_EQ(waiting_.front(), b);
  finish(a);
  EXPECT_EQ(chunks(step()), (Chunks{{c, 1}, {b, 7}}));  // b resumes: its 7 tokens recomputed
}

TEST_F(SchedulerTest, PriorityPreemptsASequenceScheduledEarlierInTheStep) {
  make_kv(4, 4);  // 16 token slots
  config_.priority = true;
  Sequence* x = add(3, /*priority=*/5);
  EXPECT_EQ(chunks(step()), (Chunks{{x, 3}}));
  Sequence* y = add(8, /*priority=*/0);  // arrives later: running order is x, y
  EXPECT_EQ(chunks(step()), (Chunks{{x, 1}, {y, 8}}));
  EXPECT_EQ(kv_->num_free_blocks(), 1);
  // x's 5th token takes the free block; y's 9th needs one more: the victim is x (priority 5), already scheduled
  // in this step: its chunk is dropped and its blocks go to y.
  const SchedulerOutput out = step();
  EXPECT_EQ(out.preempted, std::vector<Sequence*>{x});
  EXPECT_EQ(chunks(out), (Chunks{{y, 1}}));
  EXPECT_EQ(running_, std::vector<Sequence*>{y});
  EXPECT_EQ(waiting_.front(), x);
  EXPECT_EQ(x->num_computed, 0);
}

TEST_F(SchedulerTest, PrefixCacheHitSkipsComputedBlocks) {
  make_kv(64, 4, /*prefix_caching=*/true);
  Sequence* a = add(10);
  step();
  // Same prompt as a: its two full blocks (8 tokens) come from the cache.
  auto r = std::make_unique<RequestState>();
  r->request.prompt_tokens = a->request->request.prompt_tokens;
  r->sequences.push_back(std::make_unique<Sequence>(next_id_++, r.get(), 0, r->request.prompt_tokens, 0,
                                                    model_->tokenizer(), r->request.params));
  Sequence* b = r->sequences[0].get();
  waiting_.push_back(b);
  requests_.push_back(std::move(r));
  EXPECT_EQ(chunks(step()), (Chunks{{a, 1}, {b, 2}}));
  EXPECT_EQ(b->num_cached_prompt, 8);
}

}  // namespace
}  // namespace podserve

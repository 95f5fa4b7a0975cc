#include "engine/scheduler.h"

#include <algorithm>

namespace podserve {
namespace {

// Frees the newest running sequence's blocks and puts it at the front of the waiting queue (vLLM's recompute
// preemption: its tokens are kept, its K/V are computed again when it is resumed).
Sequence* preempt_newest(std::vector<Sequence*>& running, std::deque<Sequence*>& waiting, KvCacheManager& kv) {
  Sequence* victim = running.back();
  running.pop_back();
  kv.free(victim->id);
  victim->num_computed = 0;
  victim->status = SeqStatus::kWaiting;
  waiting.push_front(victim);
  return victim;
}

std::string_view cache_salt(const Sequence& seq) {
  // Prompt logprobs need logits for every prompt token, so those prompts never take cached blocks.
  const RequestState& r = *seq.request;
  return r.request.params.prompt_logprobs ? std::string_view(r.request.request_id) : std::string_view();
}

}  // namespace

SchedulerOutput schedule(const SchedulerConfig& config, std::vector<Sequence*>& running, std::deque<Sequence*>& waiting,
                         KvCacheManager& kv) {
  SchedulerOutput out;
  int budget = config.max_num_batched_tokens;
  for (size_t i = 0; i < running.size() && budget > 0;) {
    Sequence* seq = running[i];
    const int remaining = seq->num_tokens() - seq->num_computed;
    const int n = std::min(remaining, budget);
    if (n <= 0 || (!config.enable_chunked_prefill && n < remaining)) {
      ++i;
      continue;
    }
    bool allocated = kv.allocate(seq->id, seq->num_computed + n);
    while (!allocated) {
      Sequence* victim = preempt_newest(running, waiting, kv);
      out.preempted.push_back(victim);
      if (victim == seq) break;
      allocated = kv.allocate(seq->id, seq->num_computed + n);
    }
    if (!allocated) break;
    out.chunks.push_back({seq, n});
    budget -= n;
    ++i;
  }
  if (!out.preempted.empty()) return out;

  while (!waiting.empty() && budget > 0 && static_cast<int>(running.size()) < config.max_num_seqs) {
    Sequence* seq = waiting.front();
    const int cached = kv.add_sequence(seq->id, seq->tokens, cache_salt(*seq));
    seq->num_computed = cached;
    const int remaining = seq->num_tokens() - cached;
    const int n = std::min(remaining, budget);
    if ((!config.enable_chunked_prefill && n < remaining) || !kv.allocate(seq->id, cached + n)) {
      kv.free(seq->id);
      seq->num_computed = 0;
      break;
    }
    if (!seq->admitted_before) {
      seq->num_cached_prompt = std::min(cached, seq->num_prompt);
      seq->admitted_before = true;
    }
    waiting.pop_front();
    seq->status = SeqStatus::kRunning;
    running.push_back(seq);
    out.chunks.push_back({seq, n});
    budget -= n;
  }
  return out;
}

}  // namespace podserve

// Continuous batching: each step, pick which sequences run and how many of their tokens, under the batch limits
// and the KV blocks available. Plain and step-testable: no model, no threads, no I/O.
#pragma once

#include <deque>
#include <vector>

#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/sequence.h"

namespace podserve {

struct SchedulerConfig {
  int max_num_seqs = 256;            // running sequences at once
  int max_num_batched_tokens = 2048; // tokens per step
  bool enable_chunked_prefill = true;
};

struct ScheduledChunk {
  Sequence* seq;
  int num_tokens;  // tokens[seq->num_computed, + num_tokens) run this step
};

struct SchedulerOutput {
  std::vector<ScheduledChunk> chunks;
  std::vector<Sequence*> preempted;  // moved back to the front of `waiting` this step
};

/// vLLM V1's policy: running sequences first (oldest first), each getting its remaining tokens within the token
/// budget; when blocks run out the newest running sequence is preempted (blocks freed, recomputed later). Then,
/// if nothing was preempted, waiting sequences in arrival order while seats, budget and blocks last.
SchedulerOutput schedule(const SchedulerConfig& config, std::vector<Sequence*>& running, std::deque<Sequence*>& waiting,
                         KvCacheManager& kv);

}  // namespace podserve

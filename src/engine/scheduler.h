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
  /// SCHEDULING_POLICY=priority: `waiting` is kept in (priority, arrival) order and preemption evicts the running
  /// sequence with the largest (priority, arrival); fcfs: arrival order, the newest is evicted.
  bool priority = false;
  /// MAX_LORAS: distinct LoRA adapters per step (0 = no limit). A waiting request whose adapter would exceed it is
  /// skipped, and the ones behind it may still be admitted (vLLM's scheduler).
  int max_loras = 0;
};

struct ScheduledChunk {
  Sequence* seq;
  int num_tokens;  // tokens[seq->num_computed, num_tokens()) and then seq->draft run this step
};

struct SchedulerOutput {
  std::vector<ScheduledChunk> chunks;
  std::vector<Sequence*> preempted;  // moved back to the front of `waiting` this step
};

/// vLLM V1's policy: running sequences first (oldest first), each getting its remaining tokens within the token
/// budget; when blocks run out the newest running sequence (with priority: the lowest-priority one, newest among
/// equals) is preempted (blocks freed, recomputed later). Then, if nothing was preempted, waiting sequences in
/// queue order while seats, budget and blocks last, skipping those whose LoRA adapter would exceed max_loras.
SchedulerOutput schedule(const SchedulerConfig& config, std::vector<Sequence*>& running, std::deque<Sequence*>& waiting,
                         KvCacheManager& kv);

/// Puts `seq` into `waiting`: fcfs appends it (or, for a preempted sequence, puts it first); priority inserts it
/// after every sequence that orders before or with it by (priority, arrival, request id), as vLLM's heap would.
void enqueue_waiting(const SchedulerConfig& config, std::deque<Sequence*>& waiting, Sequence* seq, bool preempted);

}  // namespace podserve

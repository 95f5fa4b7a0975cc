#include "engine/scheduler.h"

#include <algorithm>
#include <cstring>

#include "model/lora.h"

namespace podserve {
namespace {

/// vLLM's order of requests under the priority policy: (priority, arrival time, request id).
bool orders_before(const Sequence& a, const Sequence& b) {
  const RequestState& ra = *a.request;
  const RequestState& rb = *b.request;
  if (ra.request.params.priority != rb.request.params.priority) {
    return ra.request.params.priority < rb.request.params.priority;
  }
  if (ra.arrival != rb.arrival) return ra.arrival < rb.arrival;
  return ra.request.request_id < rb.request.request_id;
}

/// The running sequence to preempt: the newest (fcfs), or the one with the largest (priority, arrival), the first
/// such in running order (vLLM: max(running, key=(priority, arrival_time))).
size_t pick_victim(const SchedulerConfig& config, const std::vector<Sequence*>& running) {
  if (!config.priority) return running.size() - 1;
  size_t victim = 0;
  for (size_t i = 1; i < running.size(); ++i) {
    const RequestState& v = *running[victim]->request;
    const RequestState& r = *running[i]->request;
    if (std::pair(r.request.params.priority, r.arrival) > std::pair(v.request.params.priority, v.arrival)) victim = i;
  }
  return victim;
}

// Frees the victim's blocks and puts it back in the waiting queue (vLLM's recompute preemption: its tokens are
// kept, its K/V are computed again when it is resumed).
Sequence* preempt(const SchedulerConfig& config, size_t index, std::vector<Sequence*>& running,
                  std::deque<Sequence*>& waiting, KvCacheManager& kv) {
  Sequence* victim = running[index];
  running.erase(running.begin() + static_cast<std::ptrdiff_t>(index));
  kv.free(victim->id);
  victim->num_computed = 0;
  victim->draft.clear();
  victim->status = SeqStatus::kWaiting;
  enqueue_waiting(config, waiting, victim, /*preempted=*/true);
  return victim;
}

std::string cache_salt(const Sequence& seq) {
  // Prompt logprobs need logits for every prompt token, so those prompts never take cached blocks.
  const RequestState& r = *seq.request;
  std::string salt = r.request.params.prompt_logprobs ? r.request.request_id : std::string();
  // A LoRA adapter's K/V is its own (vLLM's extra key ("lora", name, path)); its weights hash rather than its
  // name, so an adapter reloaded with other weights under the same name never reuses stale blocks.
  if (r.request.lora) {
    char key[1 + sizeof(r.request.lora->weights_hash)] = {'L'};
    std::memcpy(key + 1, r.request.lora->weights_hash, sizeof(r.request.lora->weights_hash));
    salt.append(key, sizeof(key));
  }
  return salt;
}

}  // namespace

SchedulerOutput schedule(const SchedulerConfig& config, std::vector<Sequence*>& running, std::deque<Sequence*>& waiting,
                         KvCacheManager& kv) {
  SchedulerOutput out;
  int budget = config.max_num_batched_tokens;
  for (size_t i = 0; i < running.size() && budget > 0;) {
    Sequence* seq = running[i];
    // Speculative drafts ride along after the sequence's last token; those past the budget are dropped.
    const int real = seq->num_tokens() - seq->num_computed;
    if (real + static_cast<int>(seq->draft.size()) > budget) seq->draft.resize(static_cast<size_t>(std::max(0, budget - real)));
    const int remaining = real + static_cast<int>(seq->draft.size());
    const int n = std::min(remaining, budget);
    if (n <= 0 || (!config.enable_chunked_prefill && n < remaining)) {
      ++i;
      continue;
    }
    bool allocated = kv.allocate(seq->id, seq->num_computed + n);
    while (!allocated) {
      const size_t v = pick_victim(config, running);
      if (v < i) {
        // A sequence scheduled earlier in this step (priority policy only): drop its chunk, give back its budget.
        auto chunk = std::find_if(out.chunks.begin(), out.chunks.end(),
                                  [&](const ScheduledChunk& c) { return c.seq == running[v]; });
        budget += chunk->num_tokens;
        out.chunks.erase(chunk);
        --i;
      }
      Sequence* victim = preempt(config, v, running, waiting, kv);
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

  // The adapters this step runs already (vLLM's scheduled_loras).
  std::vector<const LoraAdapter*> loras;
  auto lora_of = [](const Sequence* seq) { return seq->request->request.lora.get(); };
  auto count_lora = [&](const LoraAdapter* a) {
    if (a && std::find(loras.begin(), loras.end(), a) == loras.end()) loras.push_back(a);
  };
  for (const ScheduledChunk& c : out.chunks) count_lora(lora_of(c.seq));
  size_t next = 0;
  while (next < waiting.size() && budget > 0 && static_cast<int>(running.size()) < config.max_num_seqs) {
    Sequence* seq = waiting[next];
    const LoraAdapter* lora = lora_of(seq);
    if (lora && config.max_loras > 0 && static_cast<int>(loras.size()) >= config.max_loras &&
        std::find(loras.begin(), loras.end(), lora) == loras.end()) {
      ++next;  // skipped this step; it keeps its place in the queue
      continue;
    }
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
    waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(next));
    count_lora(lora);
    seq->status = SeqStatus::kRunning;
    running.push_back(seq);
    out.chunks.push_back({seq, n});
    budget -= n;
  }
  return out;
}

void enqueue_waiting(const SchedulerConfig& config, std::deque<Sequence*>& waiting, Sequence* seq, bool preempted) {
  if (!config.priority) {
    if (preempted) {
      waiting.push_front(seq);
    } else {
      waiting.push_back(seq);
    }
    return;
  }
  auto it = std::upper_bound(waiting.begin(), waiting.end(), seq,
                             [](const Sequence* a, const Sequence* b) { return orders_before(*a, *b); });
  waiting.insert(it, seq);
}

}  // namespace podserve

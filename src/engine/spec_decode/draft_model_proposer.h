// The draft-model proposer (vLLM's method "draft_model" with its default greedy drafting): a second, smaller model
// of the same vocabulary, with its own paged K/V, proposes k tokens per decoding sequence by k batched greedy
// forward passes. Its K/V of tokens the target rejected are simply recomputed: each sequence remembers which
// tokens its draft K/V hold and resumes from the first that differs from the sequence.
#pragma once

#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/sequence.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"

namespace podserve {

class DraftModelProposer {
 public:
  /// Fails when the draft's vocabulary differs from `target_vocab` or its pool cannot be made.
  static Result<std::unique_ptr<DraftModelProposer>> create(std::unique_ptr<LoadedModel> draft, int target_vocab,
                                                            const KvCacheRequest& kv_request);

  /// Fills each sequence's `draft` with up to k greedy tokens of the draft model (fewer near max_model_len; none
  /// when the draft's K/V pool is full). One forward pass per draft position, all sequences batched.
  Status propose(std::span<Sequence* const> seqs, int k, int max_model_len);
  /// Frees a sequence's draft K/V (finished, aborted).
  void release(SeqId seq);

 private:
  struct SeqState {
    std::vector<int32_t> cached;  // the tokens whose draft K/V are written, in position order
  };
  DraftModelProposer(std::unique_ptr<LoadedModel> draft, KvPool pool, int block_size);

  std::unique_ptr<LoadedModel> draft_;
  KvPool pool_;
  KvCacheManager kv_;
  std::unordered_map<SeqId, SeqState> states_;
  std::vector<std::vector<int32_t>> pending_;  // scratch: each drafting sequence's tokens to run this pass
};

}  // namespace podserve

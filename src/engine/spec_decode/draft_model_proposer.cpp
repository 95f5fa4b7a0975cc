#include "engine/spec_decode/draft_model_proposer.h"

#include <algorithm>

#include "engine/sampling/logits_processors.h"

namespace podserve {

Result<std::unique_ptr<DraftModelProposer>> DraftModelProposer::create(std::unique_ptr<LoadedModel> draft,
                                                                       int target_vocab,
                                                                       const KvCacheRequest& kv_request) {
  if (draft == nullptr) return invalid_argument("speculative decoding: no draft model");
  const int vocab = draft->lm().config().vocab_size;
  if (vocab != target_vocab) {
    return invalid_argument("the draft model's vocabulary (" + std::to_string(vocab) + " tokens) differs from the "
                            "target's (" + std::to_string(target_vocab) + "); a draft model must share the tokenizer");
  }
  PODSERVE_ASSIGN_OR_RETURN(KvPool pool, draft->lm().create_kv_cache(kv_request));
  return std::unique_ptr<DraftModelProposer>(new DraftModelProposer(std::move(draft), std::move(pool),
                                                                    kv_request.block_size));
}

DraftModelProposer::DraftModelProposer(std::unique_ptr<LoadedModel> draft, KvPool pool, int block_size)
    : draft_(std::move(draft)),
      pool_(std::move(pool)),
      kv_(KvCacheConfig{pool_.num_blocks(), block_size, /*enable_prefix_caching=*/false}) {}

void DraftModelProposer::release(SeqId seq) {
  kv_.free(seq);
  states_.erase(seq);
}

Status DraftModelProposer::propose(std::span<Sequence* const> seqs, int k, int max_model_len) {
  std::vector<Sequence*> drafting;
  std::vector<int> starts;  // each drafting sequence's first position to run this pass
  pending_.clear();
  for (Sequence* seq : seqs) {
    seq->draft.clear();
    const int total = seq->num_tokens();
    const int n = std::min(k, max_model_len - total);
    if (n <= 0) continue;
    auto [it, added] = states_.try_emplace(seq->id);
    if (added) kv_.add_sequence(seq->id, {});
    std::vector<int32_t>& cached = it->second.cached;
    // Resume at the first token the draft K/V hold differently (rejected drafts), never past the last token.
    const auto diff = std::mismatch(cached.begin(), cached.end(), seq->tokens.begin(), seq->tokens.end());
    int start = static_cast<int>(diff.first - cached.begin());
    start = std::min(start, total - 1);
    cached.resize(static_cast<size_t>(start));
    // Positions up to the last draft's input: total + n - 1 tokens.
    if (!kv_.allocate(seq->id, total + n - 1)) {
      release(seq->id);  // no room: this sequence decodes without drafts this step
      continue;
    }
    drafting.push_back(seq);
    starts.push_back(start);
    pending_.emplace_back(seq->tokens.begin() + start, seq->tokens.end());
    seq->draft.reserve(static_cast<size_t>(n));
  }
  const int vocab = draft_->lm().config().vocab_size;
  for (int round = 0; !drafting.empty(); ++round) {
    ForwardBatch batch;
    std::vector<size_t> members;
    for (size_t i = 0; i < drafting.size(); ++i) {
      Sequence* seq = drafting[i];
      const int n = std::min(k, max_model_len - seq->num_tokens());
      if (round >= n) continue;
      batch.add_sequence(pending_[i], starts[i], kv_.block_table(seq->id), kv_.block_size(), true);
      members.push_back(i);
    }
    if (members.empty()) break;
    float* const logits = draft_->lm().host_logits(batch.logits_rows.size() * static_cast<size_t>(vocab));
    PODSERVE_RETURN_IF_ERROR(draft_->lm().forward(batch, pool_, logits));
    for (size_t m = 0; m < members.size(); ++m) {
      const size_t i = members[m];
      Sequence* seq = drafting[i];
      std::vector<int32_t>& cached = states_[seq->id].cached;
      cached.insert(cached.end(), pending_[i].begin(), pending_[i].end());
      const int32_t token =
          argmax(std::span<const float>(logits + m * static_cast<size_t>(vocab), static_cast<size_t>(vocab)));
      seq->draft.push_back(token);
      starts[i] += static_cast<int>(pending_[i].size());
      pending_[i].assign(1, token);
    }
  }
  return ok_status();
}

}  // namespace podserve

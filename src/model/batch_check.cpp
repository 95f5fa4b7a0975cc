#include "model/batch_check.h"

#include <string>

#include "model/lora.h"

namespace podserve {

namespace {

Status validate_lora(const ForwardBatch& batch, bool supported, int n_layers) {
  if (batch.lora_slot.empty()) return ok_status();
  if (batch.lora_slot.size() != batch.tokens.size()) return invalid_argument("forward: lora_slot and tokens differ in length");
  for (int32_t s : batch.lora_slot) {
    if (s < -1 || s >= static_cast<int32_t>(batch.loras.size())) return invalid_argument("forward: LoRA slot out of range");
    if (s >= 0 && !supported) {
      return unimplemented("LoRA adapters are not supported by this model's backend (the CUDA backend and the "
                           "fused (Phi-3) or mixture-of-experts (Mixtral) layers run only the base model)");
    }
  }
  for (const LoraAdapter* a : batch.loras) {
    if (a == nullptr || static_cast<int>(a->layers.size()) != n_layers) {
      return invalid_argument("forward: a LoRA adapter does not match the model's layers");
    }
  }
  return ok_status();
}

}  // namespace

Status validate_batch(const ForwardBatch& batch, const KvPool& pool, int vocab_size, bool host_pool, bool lora) {
  if (pool.on_host() != host_pool) {
    return invalid_argument(host_pool ? "forward: the KV pool is in device memory but this model computes on the host"
                                      : "forward: the KV pool is in host memory but this model computes on a device");
  }
  const size_t n = batch.tokens.size();
  if (n == 0) return invalid_argument("forward: empty batch");
  if (batch.positions.size() != n || batch.slots.size() != n || batch.seq_of_token.size() != n) {
    return invalid_argument("forward: tokens, positions, slots and seq_of_token differ in length");
  }
  const int64_t block_size = pool.block_size();
  const int64_t num_slots = static_cast<int64_t>(pool.num_blocks()) * block_size;
  for (size_t i = 0; i < n; ++i) {
    const int32_t token = batch.tokens[i];
    if (token < 0 || token >= vocab_size) {
      return invalid_argument("token id " + std::to_string(token) + " is outside the vocabulary");
    }
    const int32_t seq = batch.seq_of_token[i];
    if (seq < 0 || static_cast<size_t>(seq) >= batch.block_tables.size()) return invalid_argument("forward: bad sequence index");
    const auto& table = batch.block_tables[seq];
    const int32_t pos = batch.positions[i];
    if (pos < 0 || static_cast<size_t>(pos / block_size) >= table.size()) {
      return invalid_argument("forward: position " + std::to_string(pos) + " is not covered by its block table");
    }
    if (batch.slots[i] < 0 || batch.slots[i] >= num_slots) return invalid_argument("forward: K/V slot outside the pool");
  }
  for (const auto& table : batch.block_tables) {
    for (int32_t block : table) {
      if (block < 0 || block >= pool.num_blocks()) return invalid_argument("forward: block id outside the pool");
    }
  }
  for (int32_t row : batch.logits_rows) {
    if (row < 0 || static_cast<size_t>(row) >= n) return invalid_argument("forward: logits row out of range");
  }
  return validate_lora(batch, lora, pool.n_layers());
}

void plan_attention_runs(const ForwardBatch& batch, std::vector<TokenRun>& runs) {
  static constexpr int64_t kMaxRun = 16;
  runs.clear();
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  for (int64_t t = 0; t < n;) {
    int64_t e = t + 1;
    while (e < n && e - t < kMaxRun && batch.seq_of_token[e] == batch.seq_of_token[t] &&
           batch.positions[e] == batch.positions[e - 1] + 1) {
      ++e;
    }
    runs.push_back({t, e});
    t = e;
  }
}

kernels::AttentionBlock attention_block_of(const ForwardBatch& batch, const TokenRun& run, const float* q, float* out,
                                           int64_t q_dim, int64_t head_off, int64_t group) {
  kernels::AttentionBlock b;
  b.q = q + run.begin * q_dim + head_off;
  b.q_stride = q_dim;
  b.out = out + run.begin * q_dim + head_off;
  b.out_stride = q_dim;
  b.n_tokens = run.end - run.begin;
  b.n_heads = group;
  b.n_ctx0 = batch.positions[run.begin] + 1;
  return b;
}

}  // namespace podserve

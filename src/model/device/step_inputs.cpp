#include "model/device/step_inputs.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "model/device/bump_arena.h"

namespace podserve {

Result<StepLayout> make_step_layout(int max_tokens, int max_seqs, int max_blocks_per_seq) {
  if (max_tokens < 1 || max_seqs < 1 || max_blocks_per_seq < 1) {
    return invalid_argument("step layout: maxima must be positive");
  }
  constexpr int64_t kLimit = int64_t{1} << 31;  // bytes
  if (int64_t{max_seqs} * max_blocks_per_seq * 4 > kLimit || int64_t{max_tokens} * 32 > kLimit) {
    return invalid_argument("step layout: " + std::to_string(max_seqs) + " sequences x " +
                            std::to_string(max_blocks_per_seq) + " blocks is too large a step buffer");
  }
  StepLayout l;
  l.max_tokens = max_tokens;
  l.max_seqs = max_seqs;
  l.max_blocks_per_seq = max_blocks_per_seq;
  size_t off = 0;
  auto place = [&](size_t count) {
    const size_t at = off;
    off += BumpArena::align_up(count * sizeof(int32_t));
    return at;
  };
  // Small arrays first, block tables last: a step's bytes are a prefix up to its last table row.
  const size_t t = static_cast<size_t>(max_tokens), s = static_cast<size_t>(max_seqs);
  l.tokens = place(t);
  l.positions = place(t);
  l.slots = place(t);
  l.logits_rows = place(t);
  l.lora_slots = place(t);
  l.seq_lens = place(s);
  l.cu_q = place(s + 1);
  l.block_tables = place(s * static_cast<size_t>(max_blocks_per_seq));
  l.total = off;
  return l;
}

bool is_uniform_decode(const ForwardBatch& batch) {
  const size_t n = batch.tokens.size();
  if (n == 0 || batch.block_tables.size() != n || batch.logits_rows.size() != n || batch.seq_of_token.size() != n) {
    return false;
  }
  for (size_t i = 0; i < n; ++i) {
    if (batch.seq_of_token[i] != static_cast<int32_t>(i) || batch.logits_rows[i] != static_cast<int32_t>(i)) return false;
  }
  return true;
}

Result<PackedStep> pack_step(const ForwardBatch& batch, const StepLayout& l, int pad_to, uint8_t* buffer) {
  const int n = static_cast<int>(batch.tokens.size());
  const int seqs = static_cast<int>(batch.block_tables.size());
  if (n == 0) return invalid_argument("step: empty batch");
  if (batch.positions.size() != batch.tokens.size() || batch.slots.size() != batch.tokens.size() ||
      batch.seq_of_token.size() != batch.tokens.size()) {
    return invalid_argument("step: tokens, positions, slots and seq_of_token differ in length");
  }
  PackedStep p;
  p.uniform_decode = is_uniform_decode(batch);
  if (pad_to > 0 && (!p.uniform_decode || pad_to < n)) {
    return invalid_argument("step: only a decode step of at most " + std::to_string(pad_to) + " sequences pads to a graph");
  }
  const int padded = pad_to > 0 ? pad_to : n;
  const int rows = static_cast<int>(batch.logits_rows.size());
  if (padded > l.max_tokens || std::max(seqs, padded > n ? padded : 0) > l.max_seqs || rows > l.max_tokens) {
    return invalid_argument("step: " + std::to_string(padded) + " tokens of " + std::to_string(seqs) +
                            " sequences exceed the step buffers (" + std::to_string(l.max_tokens) + " tokens, " +
                            std::to_string(l.max_seqs) + " sequences)");
  }

  // Each sequence's token run [first, end): one run per sequence, in block-table order, consecutive positions.
  std::vector<int> first(static_cast<size_t>(seqs) + 1, -1);
  int next_seq = 0;
  for (int i = 0; i < n; ++i) {
    const int32_t s = batch.seq_of_token[static_cast<size_t>(i)];
    if (s < 0 || s >= seqs) return invalid_argument("step: bad sequence index");
    if (batch.positions[static_cast<size_t>(i)] < 0) return invalid_argument("step: negative position");
    if (batch.slots[static_cast<size_t>(i)] > std::numeric_limits<int32_t>::max()) {
      return invalid_argument("step: a K/V slot does not fit 32 bits");
    }
    if (i > 0 && s == batch.seq_of_token[static_cast<size_t>(i) - 1]) {
      if (batch.positions[static_cast<size_t>(i)] != batch.positions[static_cast<size_t>(i) - 1] + 1) {
        return invalid_argument("step: a sequence's positions are not consecutive");
      }
      continue;
    }
    if (first[static_cast<size_t>(s)] != -1) return invalid_argument("step: a sequence's tokens are not contiguous");
    if (s != next_seq) return invalid_argument("step: sequences must appear in the order of their block tables");
    first[static_cast<size_t>(s)] = i;
    ++next_seq;
  }
  if (next_seq != seqs) return invalid_argument("step: a block table has no tokens");
  if (!batch.lora_slot.empty() && batch.lora_slot.size() != batch.tokens.size()) {
    return invalid_argument("step: lora_slot and tokens differ in length");
  }
  first[static_cast<size_t>(seqs)] = n;

  auto* tokens = reinterpret_cast<int32_t*>(buffer + l.tokens);
  auto* positions = reinterpret_cast<int32_t*>(buffer + l.positions);
  auto* slots = reinterpret_cast<int32_t*>(buffer + l.slots);
  auto* logits_rows = reinterpret_cast<int32_t*>(buffer + l.logits_rows);
  auto* lora_slots = reinterpret_cast<int32_t*>(buffer + l.lora_slots);
  auto* seq_lens = reinterpret_cast<int32_t*>(buffer + l.seq_lens);
  auto* cu_q = reinterpret_cast<int32_t*>(buffer + l.cu_q);
  auto* tables = reinterpret_cast<int32_t*>(buffer + l.block_tables);

  // Packed order: one-token sequences, then the others; packed_of[i] = packed row of the caller's token i.
  std::vector<int> packed_of(static_cast<size_t>(n));
  int row = 0, packed_seq = 0;
  cu_q[0] = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (int s = 0; s < seqs; ++s) {
      const int begin = first[static_cast<size_t>(s)], len = first[static_cast<size_t>(s) + 1] - begin;
      if ((len == 1) != (pass == 0)) continue;
      const auto& table = batch.block_tables[static_cast<size_t>(s)];
      if (static_cast<int>(table.size()) > l.max_blocks_per_seq) {
        return invalid_argument("step: a block table of " + std::to_string(table.size()) + " blocks exceeds the " +
                                std::to_string(l.max_blocks_per_seq) + " a sequence may have");
      }
      for (int i = begin; i < begin + len; ++i, ++row) {
        packed_of[static_cast<size_t>(i)] = row;
        tokens[row] = batch.tokens[static_cast<size_t>(i)];
        positions[row] = batch.positions[static_cast<size_t>(i)];
        slots[row] = static_cast<int32_t>(batch.slots[static_cast<size_t>(i)]);
        lora_slots[row] = batch.lora_slot.empty() ? -1 : batch.lora_slot[static_cast<size_t>(i)];
        p.any_lora = p.any_lora || lora_slots[row] >= 0;
      }
      const int ctx = batch.positions[static_cast<size_t>(begin + len - 1)] + 1;
      seq_lens[packed_seq] = ctx;
      p.max_seq_len = std::max(p.max_seq_len, ctx);
      int32_t* out = tables + static_cast<size_t>(packed_seq) * l.max_blocks_per_seq;
      std::copy(table.begin(), table.end(), out);
      std::fill(out + table.size(), out + l.max_blocks_per_seq, 0);
      if (pass == 0) {
        ++p.n_decode;
      } else {
        ++p.n_prefill_seqs;
        cu_q[p.n_prefill_seqs] = cu_q[p.n_prefill_seqs - 1] + len;
        p.max_query_len = std::max(p.max_query_len, len);
      }
      ++packed_seq;
    }
    if (pass == 0) {  // graph padding: one-token sequences that attend to nothing and store nothing
      for (int i = n; i < padded; ++i, ++row, ++packed_seq) {
        tokens[row] = 0;
        positions[row] = 0;
        slots[row] = -1;
        lora_slots[row] = -1;
        seq_lens[packed_seq] = 0;
        std::fill_n(tables + static_cast<size_t>(packed_seq) * l.max_blocks_per_seq, l.max_blocks_per_seq, 0);
        ++p.n_decode;
      }
    }
  }
  for (int r = 0; r < rows; ++r) {
    const int32_t t = batch.logits_rows[static_cast<size_t>(r)];
    if (t < 0 || t >= n) return invalid_argument("step: logits row out of range");
    logits_rows[r] = packed_of[static_cast<size_t>(t)];
  }
  for (int r = rows; r < padded - n + rows && pad_to > 0; ++r) logits_rows[r] = n + (r - rows);
  p.n_tokens = padded;
  p.n_real_tokens = n;
  p.n_logits = pad_to > 0 ? padded : rows;
  p.n_real_logits = rows;
  p.copy_bytes = l.block_tables + static_cast<size_t>(packed_seq) * l.max_blocks_per_seq * sizeof(int32_t);
  return p;
}

}  // namespace podserve

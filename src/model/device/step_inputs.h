// A forward step's index arrays packed into one buffer with a fixed layout, so a device model sends them with
// one host-to-device copy per step and a CUDA graph, whose kernels were captured with these addresses, finds
// its inputs in the same place at every replay. The layout depends only on the model's maxima (tokens, sequences
// and blocks per sequence in a step), never on the step, and the bytes a step uses are a prefix of the buffer, so
// the copy is one contiguous range.
//
// Sequences are reordered: those with one new token first (the decode attention kernel serves them, so a
// token's bits do not depend on what else is scheduled), then the multi-token ones (prefill attention). Logits
// rows name tokens in the packed order, in the caller's row order.
//
// Decode steps replayed through a graph captured for G sequences are padded to G: a padded row has token 0,
// position 0, K/V slot -1 (the K/V write skips it), context length 0 (attention writes zeros for it) and an
// all-zero block table row and LoRA slot -1; its logits row is computed and never copied back.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"
#include "model/causal_lm.h"

namespace podserve {

/// Byte offsets of each int32 array in the step buffer (host and device copies share them).
struct StepLayout {
  int max_tokens = 0;          // tokens in one step (max_num_batched_tokens, at least the largest graph)
  int max_seqs = 0;            // sequences in one step
  int max_blocks_per_seq = 0;  // block table width: ceil(max_model_len / block_size)
  size_t tokens = 0, positions = 0;  // [max_tokens], packed order
  size_t slots = 0;        // [max_tokens]: block * block_size + offset, -1 = do not store
  size_t logits_rows = 0;  // [max_tokens]: packed token index of each logits row
  size_t lora_slots = 0;   // [max_tokens]: packed token's LoRA slot (ForwardBatch::lora_slot), -1 = base model
  size_t seq_lens = 0;     // [max_seqs]: context length after this step (cached + new tokens), packed order
  size_t cu_q = 0;         // [max_seqs + 1]: multi-token sequence i owns rows [cu_q[i], cu_q[i+1]) after the decode rows
  size_t block_tables = 0; // [max_seqs, max_blocks_per_seq], row s = packed sequence s's table, zero-padded
  size_t total = 0;        // bytes of the whole buffer
};

/// The layout for these maxima; InvalidArgument when a maximum is not positive or the buffer would be absurd.
Result<StepLayout> make_step_layout(int max_tokens, int max_seqs, int max_blocks_per_seq);

/// What pack_step() wrote: the counts the kernels launch with, and the prefix of the buffer to copy.
struct PackedStep {
  int n_tokens = 0;        // including padding
  int n_real_tokens = 0;
  int n_decode = 0;        // one-token sequences (padding included): tokens [0, n_decode), sequences [0, n_decode)
  int n_prefill_seqs = 0;  // multi-token sequences: sequences [n_decode, n_decode + n_prefill_seqs)
  int n_logits = 0;        // rows of logits computed (padded rows included)
  int n_real_logits = 0;   // rows the caller asked for (the first n_real_logits)
  int max_query_len = 0;   // longest run of new tokens of a multi-token sequence (0 if none)
  int max_seq_len = 0;     // longest context
  bool uniform_decode = false;  // every sequence has one token whose logits are wanted, in order
  bool any_lora = false;        // some token runs a LoRA adapter
  size_t copy_bytes = 0;        // bytes [0, copy_bytes) of the buffer hold this step
  int n_seqs() const { return n_decode + n_prefill_seqs; }
};

/// Packs `batch` into `buffer` (StepLayout::total bytes) as the kernels read it. Each sequence's tokens must be
/// contiguous and at consecutive positions, block tables in the order of the sequences' first tokens (as
/// ForwardBatch::add_sequence builds them). `pad_to` > 0 pads a uniform decode step to that many sequences (a
/// graph's size). InvalidArgument when the batch exceeds the layout's maxima, is not laid out that way, or cannot
/// be padded; the slots and block ids themselves are the caller's to check (validate_batch).
Result<PackedStep> pack_step(const ForwardBatch& batch, const StepLayout& layout, int pad_to, uint8_t* buffer);

/// Whether every sequence of `batch` has one token, its logits are wanted, and the rows are in token order:
/// the steps a decode graph can run.
bool is_uniform_decode(const ForwardBatch& batch);

}  // namespace podserve

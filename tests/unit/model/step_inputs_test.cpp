#include "model/device/step_inputs.h"

#include <gtest/gtest.h>

#include <vector>

namespace podserve {
namespace {

std::vector<int32_t> ints(const std::vector<uint8_t>& buf, size_t off, size_t n) {
  const auto* p = reinterpret_cast<const int32_t*>(buf.data() + off);
  return std::vector<int32_t>(p, p + n);
}

TEST(StepLayout, IsFixedByTheMaximaAndAligned) {
  auto l = make_step_layout(2048, 256, 512);
  ASSERT_TRUE(l.ok());
  for (size_t off : {l->tokens, l->positions, l->slots, l->logits_rows, l->lora_slots, l->seq_lens, l->cu_q,
                     l->block_tables}) {
    EXPECT_EQ(off % 256, 0u);
  }
  EXPECT_GE(l->positions - l->tokens, 2048u * 4);
  EXPECT_GE(l->block_tables - l->cu_q, 257u * 4);
  EXPECT_EQ(l->total, l->block_tables + 256u * 512 * 4);
  EXPECT_FALSE(make_step_layout(0, 1, 1).ok());
  EXPECT_FALSE(make_step_layout(16, 1 << 20, 1 << 20).ok());  // 4 TiB of block tables
}

// A mixed step as the engine builds it: a prefill chunk (no logits), a decode token, a prompt finishing. The
// decode sequence moves to the front; logits rows and LoRA slots follow their tokens.
TEST(PackStep, PacksAMixedBatchDecodeFirst) {
  ForwardBatch b;
  const std::vector<int32_t> t1 = {5, 6, 7}, t2 = {9}, t3 = {11, 12};
  const std::vector<int32_t> bt1 = {4}, bt2 = {7, 3}, bt3 = {2, 8, 1};
  b.add_sequence(t1, 0, bt1, 4, false, /*lora=*/1);
  b.add_sequence(t2, 5, bt2, 4, true);
  b.add_sequence(t3, 8, bt3, 4, true, /*lora=*/0);
  auto l = make_step_layout(16, 4, 3);
  ASSERT_TRUE(l.ok());
  std::vector<uint8_t> buf(l->total, 0xee);
  auto p = pack_step(b, *l, 0, buf.data());
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->n_tokens, 6);
  EXPECT_EQ(p->n_decode, 1);
  EXPECT_EQ(p->n_prefill_seqs, 2);
  EXPECT_EQ(p->n_logits, 2);
  EXPECT_FALSE(p->uniform_decode);
  EXPECT_EQ(p->max_query_len, 3);
  EXPECT_EQ(p->max_seq_len, 10);
  EXPECT_EQ(p->copy_bytes, l->block_tables + 3u * 3 * 4);
  EXPECT_EQ(ints(buf, l->tokens, 6), (std::vector<int32_t>{9, 5, 6, 7, 11, 12}));
  EXPECT_EQ(ints(buf, l->positions, 6), (std::vector<int32_t>{5, 0, 1, 2, 8, 9}));
  // slot = block_table[pos / 4] * 4 + pos % 4
  EXPECT_EQ(ints(buf, l->slots, 6), (std::vector<int32_t>{13, 16, 17, 18, 4, 5}));
  EXPECT_EQ(ints(buf, l->seq_lens, 3), (std::vector<int32_t>{6, 3, 10}));
  EXPECT_EQ(ints(buf, l->cu_q, 3), (std::vector<int32_t>{0, 3, 5}));  // after the decode row
  EXPECT_EQ(ints(buf, l->logits_rows, 2), (std::vector<int32_t>{0, 5}));
  EXPECT_EQ(ints(buf, l->lora_slots, 6), (std::vector<int32_t>{-1, 1, 1, 1, 0, 0}));
  EXPECT_TRUE(p->any_lora);
  EXPECT_EQ(ints(buf, l->block_tables, 9), (std::vector<int32_t>{7, 3, 0, 4, 0, 0, 2, 8, 1}));
}

TEST(PackStep, PadsADecodeStepToTheGraphSize) {
  ForwardBatch b;
  const std::vector<int32_t> bt1 = {3, 1}, bt2 = {0};
  const int32_t a = 42, c = 43;
  b.add_sequence(std::span(&a, 1), 17, bt1, 16, true);
  b.add_sequence(std::span(&c, 1), 2, bt2, 16, true);
  ASSERT_TRUE(is_uniform_decode(b));
  auto l = make_step_layout(8, 8, 2);
  ASSERT_TRUE(l.ok());
  std::vector<uint8_t> buf(l->total, 0xee);
  auto p = pack_step(b, *l, 4, buf.data());
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_TRUE(p->uniform_decode);
  EXPECT_EQ(p->n_tokens, 4);
  EXPECT_EQ(p->n_real_tokens, 2);
  EXPECT_EQ(p->n_decode, 4);
  EXPECT_EQ(p->n_prefill_seqs, 0);
  EXPECT_EQ(p->n_logits, 4);
  EXPECT_EQ(p->n_real_logits, 2);
  EXPECT_EQ(ints(buf, l->slots, 4), (std::vector<int32_t>{17, 2, -1, -1}));
  EXPECT_EQ(ints(buf, l->lora_slots, 4), (std::vector<int32_t>{-1, -1, -1, -1}));
  EXPECT_FALSE(p->any_lora);
  EXPECT_EQ(ints(buf, l->seq_lens, 4), (std::vector<int32_t>{18, 3, 0, 0}));
  EXPECT_EQ(ints(buf, l->logits_rows, 4), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(ints(buf, l->tokens, 4), (std::vector<int32_t>{42, 43, 0, 0}));
  EXPECT_EQ(ints(buf, l->positions, 4), (std::vector<int32_t>{17, 2, 0, 0}));
  EXPECT_EQ(ints(buf, l->block_tables, 8), (std::vector<int32_t>{3, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(p->copy_bytes, l->block_tables + 4u * 2 * 4);
  // A graph smaller than the batch, or padding a prefill, is refused.
  EXPECT_FALSE(pack_step(b, *l, 1, buf.data()).ok());
  ForwardBatch prefill;
  const std::vector<int32_t> two = {1, 2};
  prefill.add_sequence(two, 0, bt2, 16, true);
  EXPECT_FALSE(pack_step(prefill, *l, 4, buf.data()).ok());
}

TEST(PackStep, RefusesWhatTheKernelsCannotRead) {
  auto l = make_step_layout(4, 2, 2);
  ASSERT_TRUE(l.ok());
  std::vector<uint8_t> buf(l->total);
  const std::vector<int32_t> bt = {0, 1}, long_bt = {0, 1, 2};
  const std::vector<int32_t> five = {1, 2, 3, 4, 5};
  ForwardBatch too_many;
  too_many.add_sequence(five, 0, long_bt, 2, true);
  EXPECT_FALSE(pack_step(too_many, *l, 0, buf.data()).ok());
  ForwardBatch wide;
  const std::vector<int32_t> one = {1};
  wide.add_sequence(one, 4, long_bt, 2, true);
  auto r = pack_step(wide, *l, 0, buf.data());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("3 blocks"), std::string::npos) << r.status().message();
  // Interleaved tokens of two sequences.
  ForwardBatch mixed;
  mixed.add_sequence(one, 0, bt, 2, false);
  mixed.add_sequence(one, 0, bt, 2, false);
  mixed.tokens.push_back(1);
  mixed.positions.push_back(1);
  mixed.slots.push_back(1);
  mixed.seq_of_token.push_back(0);
  EXPECT_FALSE(pack_step(mixed, *l, 0, buf.data()).ok());
  // Positions that jump.
  ForwardBatch gap;
  const std::vector<int32_t> two = {1, 2};
  gap.add_sequence(two, 0, bt, 2, true);
  gap.positions[1] = 3;
  EXPECT_FALSE(pack_step(gap, *l, 0, buf.data()).ok());
  // A slot past 32 bits.
  ForwardBatch big;
  big.add_sequence(one, 0, bt, 2, true);
  big.slots[0] = int64_t{1} << 33;
  EXPECT_FALSE(pack_step(big, *l, 0, buf.data()).ok());
}

}  // namespace
}  // namespace podserve

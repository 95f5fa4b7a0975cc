// Block hashes: deterministic, and sensitive to every token, the parent and the extra keys (cache_salt).
#include "engine/kv_cache/block_hash.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>
#include <vector>

namespace podserve {
namespace {

const BlockHash kParent{0x0123456789abcdefULL, 0xfedcba9876543210ULL};

TEST(BlockHash, SameInputsSameHash) {
  const std::vector<int32_t> tokens = {1, 2, 3, 4};
  EXPECT_EQ(hash_block(kParent, tokens), hash_block(kParent, std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(hash_block(kParent, tokens, "salt"), hash_block(kParent, tokens, std::string("salt")));
  EXPECT_EQ(hash_block(kParent, tokens, ""), hash_block(kParent, tokens));  // empty salt = no salt
}

TEST(BlockHash, AnyChangeChangesTheHash) {
  const std::vector<int32_t> tokens = {10, 20, 30, 40};
  const BlockHash base = hash_block(kParent, tokens);
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto changed = tokens;
    changed[i] += 1;
    EXPECT_FALSE(hash_block(kParent, changed) == base) << "token " << i;
  }
  auto swapped = tokens;
  std::swap(swapped[0], swapped[1]);
  EXPECT_FALSE(hash_block(kParent, swapped) == base);
  EXPECT_FALSE(hash_block(BlockHash{kParent.low ^ 1, kParent.high}, tokens) == base);
  EXPECT_FALSE(hash_block(BlockHash{kParent.low, kParent.high ^ (1ULL << 63)}, tokens) == base);
  EXPECT_FALSE(hash_block(kParent, tokens, "a") == base);
  EXPECT_FALSE(hash_block(kParent, tokens, "a") == hash_block(kParent, tokens, "b"));
  // Fields are length-prefixed: moving bytes between the tokens and the salt changes the hash.
  const std::vector<int32_t> shorter = {10, 20, 30};
  const int32_t last = 40;
  EXPECT_FALSE(hash_block(kParent, shorter, std::string(reinterpret_cast<const char*>(&last), 4)) == base);
  // Long salts take the heap path; still deterministic and salt-sensitive.
  const std::string long_salt(5000, 'x');
  EXPECT_EQ(hash_block(kParent, tokens, long_salt), hash_block(kParent, tokens, long_salt));
  EXPECT_FALSE(hash_block(kParent, tokens, long_salt) == hash_block(kParent, tokens, long_salt + "y"));
}

TEST(BlockHash, ChainsAndRootsDiffer) {
  const std::vector<int32_t> tokens = {5, 6, 7, 8};
  const BlockHash a = random_root_hash(), b = random_root_hash();
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(hash_block(a, tokens) == hash_block(b, tokens));
  // 20,000 blocks of a chain plus their single-token variants: no collisions (in either 64-bit half).
  std::unordered_set<uint64_t> lows, highs;
  BlockHash parent = a;
  for (int i = 0; i < 10000; ++i) {
    const std::vector<int32_t> block = {i % 7, i % 3, 1, 2};
    const BlockHash variant = hash_block(parent, std::vector<int32_t>{i % 7, i % 3, 1, 3});
    parent = hash_block(parent, block);
    EXPECT_TRUE(lows.insert(parent.low).second && highs.insert(parent.high).second) << i;
    EXPECT_TRUE(lows.insert(variant.low).second && highs.insert(variant.high).second) << i;
  }
}

TEST(PrefixIndex, InsertFindErase) {
  PrefixIndex index;
  const BlockHash h = hash_block(kParent, std::vector<int32_t>{1});
  EXPECT_FALSE(index.find(h).has_value());
  EXPECT_TRUE(index.insert(h, 3));
  EXPECT_FALSE(index.insert(h, 4));  // first copy wins
  EXPECT_EQ(index.find(h), 3);
  index.erase(h, 3);
  EXPECT_FALSE(index.find(h).has_value());
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace podserve

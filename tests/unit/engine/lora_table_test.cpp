// The engine's LoRA adapter table (vLLM's LRUCacheWorkerLoRAManager with capacity MAX_CPU_LORAS): least recently
// used dropped first, a get refreshes, a dropped adapter is read again from its path (the committed peft adapters
// of tests/data/lora), and a failed reload names the adapter as vLLM's "Loading lora ... failed".
#include "engine/lora_table.h"

#include <gtest/gtest.h>

#include "model/hf_config.h"
#include "model/lora.h"
#include "test_util.h"

namespace podserve {
namespace {

std::string lora_dir(const std::string& name) { return testing::test_data_dir() + "/lora/" + name; }

class LoraTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = read_hf_config(testing::test_data_dir() + "/tiny_models/smollm2/f32");
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    config_ = c->model;
  }
  std::shared_ptr<const LoraAdapter> load(const std::string& name) {
    auto a = load_lora_adapter(lora_dir(name), config_, 16);
    EXPECT_TRUE(a.ok()) << a.status().to_string();
    return a.ok() ? a.value() : nullptr;
  }
  ModelConfig config_;
};

TEST_F(LoraTableTest, DropsTheLeastRecentlyUsedAndReloadsIt) {
  LoraTable table(2, 16);
  const LoraRef alpha{1, "alpha", lora_dir("alpha")}, beta{2, "beta", lora_dir("beta")}, gamma{3, "gamma", lora_dir("alpha")};
  auto a = load("alpha");
  table.put(alpha, a);
  table.put(beta, load("beta"));
  ASSERT_TRUE(table.get(alpha, config_).ok());  // alpha is now the most recent: beta goes first
  EXPECT_EQ(table.get(alpha, config_).value(), a);  // held: the same weights, not a reload
  table.put(gamma, load("alpha"));
  EXPECT_EQ(table.ids(), (std::vector<int64_t>{3, 1}));
  auto b = table.get(beta, config_);  // dropped: read again from its path, and alpha (least recent) drops
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(b.value()->path, lora_dir("beta"));
  EXPECT_EQ(table.ids(), (std::vector<int64_t>{2, 3}));
  EXPECT_NE(table.get(alpha, config_).value(), a);  // a reload: new weights object (same bytes)
}

TEST_F(LoraTableTest, PutUnderAnIdReplacesItsWeights) {
  LoraTable table(2, 16);
  const LoraRef ref{7, "mine", lora_dir("beta")};
  table.put(ref, load("alpha"));
  auto b = load("beta");
  table.put(ref, b);  // a load in place
  EXPECT_EQ(table.ids(), std::vector<int64_t>{7});
  EXPECT_EQ(table.get(ref, config_).value(), b);
}

TEST_F(LoraTableTest, AFailedReloadNamesTheAdapter) {
  LoraTable table(1, 16);
  auto r = table.get(LoraRef{1, "gone", testing::test_data_dir() + "/lora/missing"}, config_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message().rfind("Loading lora gone failed: No adapter found for ", 0), 0u) << r.status().message();
  EXPECT_TRUE(table.ids().empty());
  // A rank above MAX_LORA_RANK is refused on reload too (alpha's r is 8).
  LoraTable small(1, 1);
  EXPECT_FALSE(small.get(LoraRef{2, "a", lora_dir("alpha")}, config_).ok());
}

}  // namespace
}  // namespace podserve

#include "model/device/device_choice.h"
#include "model/device/device_limits.h"

#include <gtest/gtest.h>

namespace podserve {
namespace {

TEST(DeviceChoice, AutoPicksCudaOnlyWhenBuiltAndVisible) {
  EXPECT_EQ(*choose_device(Device::kAuto, {true, 1, ""}), Device::kCuda);
  EXPECT_EQ(*choose_device(Device::kAuto, {true, 0, "no CUDA-capable device is detected"}), Device::kCpu);
  EXPECT_EQ(*choose_device(Device::kAuto, {false, 0, ""}), Device::kCpu);
  EXPECT_EQ(*choose_device(Device::kCpu, {true, 8, ""}), Device::kCpu);
  EXPECT_EQ(*choose_device(Device::kCuda, {true, 2, ""}), Device::kCuda);
}

TEST(DeviceChoice, CudaThatCannotBeHadIsAClearError) {
  auto not_built = choose_device(Device::kCuda, {false, 0, ""});
  ASSERT_FALSE(not_built.ok());
  EXPECT_EQ(not_built.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_built.status().message().find("built without CUDA"), std::string::npos);
  EXPECT_NE(not_built.status().message().find("DEVICE"), std::string::npos);
  auto none = choose_device(Device::kCuda, {true, 0, "CUDA driver version is insufficient"});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no CUDA device is visible"), std::string::npos);
  EXPECT_NE(none.status().message().find("CUDA driver version is insufficient"), std::string::npos);
  EXPECT_NE(none.status().message().find("CUDA_VISIBLE_DEVICES"), std::string::npos);
}

// The real probe: a binary without CUDA says so; a CUDA build either sees devices or says why not (on a machine
// without a GPU or driver the runtime's error, and no crash).
TEST(DeviceChoice, ProbeAnswersOnAnyMachine) {
  const CudaAvailability cuda = probe_cuda();
#ifdef PODSERVE_HAVE_CUDA
  EXPECT_TRUE(cuda.built);
  if (cuda.device_count == 0) {
    EXPECT_FALSE(cuda.error.empty());
  }
#else
  EXPECT_FALSE(cuda.built);
  EXPECT_EQ(cuda.device_count, 0);
#endif
  EXPECT_EQ(*resolve_device(Device::kCpu), Device::kCpu);
  auto chosen = resolve_device(Device::kAuto);
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen == Device::kCuda, cuda.built && cuda.device_count > 0);
}

// The targets name these datasheet figures (gpu.md §7): the bench's ratios must use them per card.
TEST(DeviceLimits, DatasheetFiguresByCardName) {
  DeviceLimits sxm, pcie, h200, other;
  datasheet_limits("NVIDIA H100 80GB HBM3", &sxm);
  datasheet_limits("NVIDIA H100 PCIe", &pcie);
  datasheet_limits("NVIDIA H200", &h200);
  datasheet_limits("NVIDIA GeForce RTX 4090", &other);
  EXPECT_DOUBLE_EQ(sxm.datasheet_bandwidth, 3.35e12);
  EXPECT_DOUBLE_EQ(sxm.datasheet_bf16_flops, 989e12);
  EXPECT_DOUBLE_EQ(pcie.datasheet_bandwidth, 2.0e12);
  EXPECT_DOUBLE_EQ(h200.datasheet_bandwidth, 4.8e12);
  EXPECT_DOUBLE_EQ(h200.datasheet_bf16_flops, 989e12);
  EXPECT_EQ(other.datasheet_bandwidth, 0);
}

}  // namespace
}  // namespace podserve

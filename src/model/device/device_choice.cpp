#include "model/device/device_choice.h"

#include <cstdlib>

#include "base/log.h"

namespace podserve {
namespace {

std::string visible_devices_note() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v == nullptr ? "CUDA_VISIBLE_DEVICES unset" : "CUDA_VISIBLE_DEVICES=\"" + std::string(v) + "\"";
}

}  // namespace

Result<Device> choose_device(Device requested, const CudaAvailability& cuda) {
  if (requested == Device::kCpu) return Device::kCpu;
  const bool usable = cuda.built && cuda.device_count > 0;
  if (requested == Device::kAuto) return usable ? Device::kCuda : Device::kCpu;
  if (!cuda.built) {
    return invalid_argument(
        "DEVICE=cuda (--device cuda): this podserve was built without CUDA. Use the CUDA build (CMake "
        "-DPODSERVE_CUDA=on, or the CUDA image), or set --device cpu (DEVICE=cpu) or auto.");
  }
  if (!usable) {
    return invalid_argument("DEVICE=cuda (--device cuda): no CUDA device is visible (" + visible_devices_note() +
                            (cuda.error.empty() ? "" : "; the CUDA runtime says: " + cuda.error) +
                            "). Set --device cpu (DEVICE=cpu) or auto to run on the CPU.");
  }
  return Device::kCuda;
}

Result<Device> resolve_device(Device requested) {
  if (requested == Device::kCpu) return Device::kCpu;
  const CudaAvailability cuda = probe_cuda();
  PODSERVE_ASSIGN_OR_RETURN(Device device, choose_device(requested, cuda));
  if (requested == Device::kAuto) {
    if (device == Device::kCuda) {
      PODSERVE_LOG(kInfo) << "device auto: CUDA (" << cuda.device_count << " visible; " << visible_devices_note() << ")";
    } else if (!cuda.built) {
      PODSERVE_LOG(kInfo) << "device auto: CPU (this binary has no CUDA)";
    } else {
      PODSERVE_LOG(kInfo) << "device auto: CPU (no CUDA device visible: " << (cuda.error.empty() ? "none found" : cuda.error)
                          << "; " << visible_devices_note() << ")";
    }
  }
  return device;
}

}  // namespace podserve

#include "engine/request.h"

namespace podserve {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kNone: return nullptr;
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
    case FinishReason::kError: return "error";
  }
  return nullptr;
}

}  // namespace podserve

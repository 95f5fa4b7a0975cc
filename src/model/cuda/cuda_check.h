// Every CUDA runtime call's status as a podserve Status naming the call and the runtime's error, and the debug
// mode that synchronizes after each stage (PODSERVE_CUDA_SYNC_CHECK=1) so an asynchronous kernel fault is
// reported at the stage that caused it rather than at the next copy.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "base/status.h"

namespace podserve::cuda {

/// InternalError "<what> failed: <error name>: <error string>", or ok for cudaSuccess. Out-of-memory errors are
/// ResourceExhausted, so callers can name the setting to change.
Status cuda_status(cudaError_t err, const char* what);

/// Whether PODSERVE_CUDA_SYNC_CHECK is set to 1/true (read once).
bool sync_check_enabled();

/// With sync checks on: synchronizes `stream` and reports any error (including an earlier launch's) as the
/// failure of `stage`. Off: only the last launch error (cudaPeekAtLastError), which costs nothing.
Status check_stage(cudaStream_t stream, const char* stage);

}  // namespace podserve::cuda

/// Returns from the enclosing function (a Status or Result) when the CUDA call fails.
#define PODSERVE_CUDA_TRY(call) PODSERVE_RETURN_IF_ERROR(::podserve::cuda::cuda_status((call), #call))

// `podserve endpoint`: a local RunPod-compatible serverless endpoint (see endpoint_service.h).
#pragma once

namespace podserve {

int run_endpoint(int argc, char** argv);

}  // namespace podserve

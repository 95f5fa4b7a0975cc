// The model, the engine and the OpenAI routes over them, built from a ServerConfig: the start-up that
// `podserve serve` and `podserve worker` share (they differ only in how requests reach the routes).
#pragma once

#include <memory>

#include "base/status.h"
#include "engine/engine.h"
#include "serve/config.h"
#include "serve/openai/service.h"

namespace podserve {

struct ServingStack {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<openai::OpenAiService> service;  // declared after the engine: destroyed first

  ServingStack() = default;
  ServingStack(ServingStack&&) noexcept = default;
  ServingStack& operator=(ServingStack&&) noexcept = default;
  ~ServingStack();  // shuts the engine down before the service goes away
};

/// Loads the model, parses the chat template (a bad custom one is fatal) and starts the engine thread. Errors
/// name the problem (unloadable model, bad template, engine start-up) and are meant for the start-up log.
Result<ServingStack> build_serving_stack(const ServerConfig& config);

}  // namespace podserve

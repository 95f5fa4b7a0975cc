// The engine: owns the model, runs generation on its own thread and streams outputs to callbacks.
// (This first version serves requests one at a time, in arrival order; continuous batching over a paged KV
// cache replaces the loop body without changing this interface.)
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "engine/request.h"

namespace podserve {

class LoadedModel;
class Tokenizer;

struct EngineConfig {
  int max_model_len = 0;      // 0 = the model's context length
  int max_num_seqs = 256;     // admission limit: requests waiting + running
  uint64_t seed = 0;          // default seed for requests without one
};

class Engine {
 public:
  /// Takes ownership of the model and starts the engine thread.
  static Result<std::unique_ptr<Engine>> create(std::unique_ptr<LoadedModel> model, const EngineConfig& config);
  virtual ~Engine() = default;

  /// Queues a request. Fails (without calling `on_output`) if the prompt is empty or does not fit the context
  /// (OutOfRange, vLLM's message) or the queue is full (ResourceExhausted). Otherwise `on_output` is called one
  /// or more times, the last time with finished == true.
  virtual Status submit(GenerationRequest request, OutputCallback on_output) = 0;
  /// Stops a request early; its last output has finish_reason kAbort. Unknown ids are ignored.
  virtual void abort(const std::string& request_id) = 0;

  virtual const Tokenizer& tokenizer() const = 0;
  /// The chat template from the model file ("" if it has none).
  virtual const std::string& chat_template() const = 0;
  virtual int max_model_len() const = 0;
  /// Stops the engine thread; pending requests finish with kAbort.
  virtual void shutdown() = 0;
};

}  // namespace podserve

// Compiles structured-output constraints for the engine off its thread: the request that asked waits for its
// grammar while the others keep stepping (vLLM's WAITING_FOR_STRUCTURED_OUTPUT_GRAMMAR). One compile thread,
// started on first use (vLLM uses half the CPUs; on the small machines this runs on, the model's threads want
// the rest), over a GrammarCompiler whose cache makes a repeated constraint free.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "structured/grammar_compiler.h"

namespace podserve {
using structured::StructuredConstraint;
}

namespace podserve {

class GrammarService {
 public:
  /// One compilation: `done` flips once, after `status` / `grammar` are written.
  struct Pending {
    std::atomic<bool> done{false};
    Status status;
    std::shared_ptr<const structured::CompiledGrammar> grammar;
  };

  using VocabFactory = std::function<std::shared_ptr<const structured::TokenVocabulary>()>;
  /// `make_vocab` runs once, on the compile thread, before the first compilation (a server that never sees a
  /// constrained request never pays for it). `on_ready` is called on the compile thread after each compilation
  /// (to wake the engine thread).
  GrammarService(VocabFactory make_vocab, std::function<void()> on_ready);
  ~GrammarService();

  /// Starts compiling `constraint`; a cached grammar is done at once.
  std::shared_ptr<Pending> compile(const StructuredConstraint& constraint);
  structured::GrammarCompiler::Stats stats() const;

 private:
  void run();

  VocabFactory make_vocab_;
  std::function<void()> on_ready_;
  mutable std::mutex mutex_;  // guards the queue and compiler_ (the pointer; the compiler is thread-safe)
  std::shared_ptr<structured::GrammarCompiler> compiler_;
  std::condition_variable cv_;
  std::deque<std::pair<StructuredConstraint, std::shared_ptr<Pending>>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace podserve

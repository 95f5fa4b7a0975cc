// Compiles constraints against one vocabulary and caches the results per (constraint, vocabulary), with a byte
// budget (least recently used first out), as xgrammar's GrammarCompiler does for vLLM (VLLM_XGRAMMAR_CACHE_MB).
// Thread-safe: the engine compiles on a worker thread while it keeps stepping.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/status.h"
#include "structured/compiled_grammar.h"
#include "structured/constraint.h"

namespace podserve::structured {

class GrammarCompiler {
 public:
  explicit GrammarCompiler(std::shared_ptr<const TokenVocabulary> vocab, size_t cache_bytes = size_t{512} << 20);

  Result<std::shared_ptr<const CompiledGrammar>> compile(const StructuredConstraint& constraint);
  /// The cached grammar of `constraint` (counted as a hit), or nullptr without compiling.
  std::shared_ptr<const CompiledGrammar> cached(const StructuredConstraint& constraint);
  const TokenVocabulary& vocab() const { return *vocab_; }

  struct Stats {
    int64_t hits = 0, misses = 0;
    size_t cached_bytes = 0, cached_grammars = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const CompiledGrammar> grammar;
  };
  std::shared_ptr<const TokenVocabulary> vocab_;
  size_t budget_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  Stats stats_;
};

}  // namespace podserve::structured

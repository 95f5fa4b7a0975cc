#include "structured/grammar_compiler.h"

namespace podserve::structured {

GrammarCompiler::GrammarCompiler(std::shared_ptr<const TokenVocabulary> vocab, size_t cache_bytes)
    : vocab_(std::move(vocab)), budget_(cache_bytes) {}

Result<std::shared_ptr<const CompiledGrammar>> GrammarCompiler::compile(const StructuredConstraint& constraint) {
  const std::string key = constraint.cache_key();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++stats_.hits;
      return it->second->grammar;
    }
    ++stats_.misses;
  }
  // Compiled outside the lock: two requests racing for one new grammar may both compile it; the first stays.
  PODSERVE_ASSIGN_OR_RETURN(Grammar grammar, grammar_for(constraint));
  PODSERVE_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledGrammar> compiled, CompiledGrammar::compile(std::move(grammar), vocab_));
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(key);
  if (it != index_.end()) return it->second->grammar;
  lru_.push_front(Entry{key, compiled});
  index_.emplace(key, lru_.begin());
  stats_.cached_bytes += compiled->memory_bytes() + key.size();
  ++stats_.cached_grammars;
  while (stats_.cached_bytes > budget_ && lru_.size() > 1) {
    const Entry& last = lru_.back();
    stats_.cached_bytes -= last.grammar->memory_bytes() + last.key.size();
    --stats_.cached_grammars;
    index_.erase(last.key);
    lru_.pop_back();
  }
  return compiled;
}

std::shared_ptr<const CompiledGrammar> GrammarCompiler::cached(const StructuredConstraint& constraint) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(constraint.cache_key());
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return it->second->grammar;
}

GrammarCompiler::Stats GrammarCompiler::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace podserve::structured

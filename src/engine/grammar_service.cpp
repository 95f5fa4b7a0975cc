#include "engine/grammar_service.h"

#include <chrono>

#include "base/log.h"

namespace podserve {

GrammarService::GrammarService(VocabFactory make_vocab, std::function<void()> on_ready)
    : make_vocab_(std::move(make_vocab)), on_ready_(std::move(on_ready)) {}

structured::GrammarCompiler::Stats GrammarService::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return compiler_ ? compiler_->stats() : structured::GrammarCompiler::Stats{};
}

GrammarService::~GrammarService() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<GrammarService::Pending> GrammarService::compile(const StructuredConstraint& constraint) {
  auto pending = std::make_shared<Pending>();
  std::lock_guard<std::mutex> lock(mutex_);
  if (compiler_ != nullptr) {
    if (auto hit = compiler_->cached(constraint)) {
      pending->grammar = std::move(hit);
      pending->done.store(true, std::memory_order_release);
      return pending;
    }
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  queue_.emplace_back(constraint, pending);
  cv_.notify_one();
  return pending;
}

void GrammarService::run() {
  for (;;) {
    std::pair<StructuredConstraint, std::shared_ptr<Pending>> job;
    std::shared_ptr<structured::GrammarCompiler> compiler;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      compiler = compiler_;
    }
    const auto start = std::chrono::steady_clock::now();
    if (compiler == nullptr) {
      compiler = std::make_shared<structured::GrammarCompiler>(make_vocab_());
      std::lock_guard<std::mutex> lock(mutex_);
      compiler_ = compiler;
    }
    Result<std::shared_ptr<const structured::CompiledGrammar>> compiled = compiler->compile(job.first);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (compiled.ok()) {
      job.second->grammar = *compiled;
      PODSERVE_LOG(kDebug) << "structured output: " << structured::constraint_kind_name(job.first.kind)
                           << " grammar ready in " << ms << " ms";
    } else {
      job.second->status = compiled.status();
    }
    job.second->done.store(true, std::memory_order_release);
    if (on_ready_) on_ready_();
  }
}

}  // namespace podserve

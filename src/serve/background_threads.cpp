#include "serve/background_threads.h"

#include <utility>

namespace podserve {

bool BackgroundThreads::spawn(std::function<void()> work) {
  std::list<Entry> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    for (auto it = threads_.begin(); it != threads_.end();) {
      auto next = std::next(it);
      if (it->done->load()) finished.splice(finished.end(), threads_, it);
      it = next;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    threads_.push_back(Entry{std::thread([work = std::move(work), done] {
                               work();
                               done->store(true);
                             }),
                             done});
  }
  for (Entry& e : finished) e.thread.join();  // already past its work: returns at once
  return true;
}

void BackgroundThreads::join_all() {
  std::list<Entry> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    all.swap(threads_);
  }
  for (Entry& e : all) e.thread.join();
}

size_t BackgroundThreads::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const Entry& e : threads_) n += e.done->load() ? 0 : 1;
  return n;
}

}  // namespace podserve

#include "exec/worker_pool.h"

#include <pthread.h>

namespace shopd::exec {

WorkerPool::WorkerPool(size_t threads, size_t max_queued, std::string name) : max_queued_(max_queued) {
  if (threads == 0) threads = 1;
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Loop(); });
    pthread_setname_np(threads_.back().native_handle(), name.substr(0, 15).c_str());
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

std::unique_lock<std::mutex> WorkerPool::AcquireSlot() {
  std::unique_lock lock(mu_);
  if (stopping_ || queue_.size() >= max_queued_) {
    ++rejected_;
    lock.unlock();
  }
  return lock;
}

void WorkerPool::Loop() {
  for (;;) {
    std::optional<Task> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Drain what was accepted before stopping: an accepted task always completes.
      if (queue_.empty()) return;
      task.emplace(std::move(queue_.front()));
      queue_.pop_front();
    }
    (*task)();
  }
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t WorkerPool::rejected() const {
  std::lock_guard lock(mu_);
  return rejected_;
}

}  // namespace shopd::exec

#include "exec/worker_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace shopd::exec {

WorkerPool::WorkerPool(size_t threads, size_t max_queued, std::string name)
    : WorkerPool(WorkerPoolOptions{.threads = threads, .max_queued = max_queued, .name = std::move(name)}) {}

WorkerPool::WorkerPool(WorkerPoolOptions o)
    : max_queued_(o.max_queued),
      nice_(o.nice),
      max_wait_ms_(o.max_wait_ms),
      clock_(o.clock ? *o.clock : core::SystemClock::Instance()) {
  const size_t threads = o.threads == 0 ? 1 : o.threads;
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Loop(); });
    pthread_setname_np(threads_.back().native_handle(), o.name.substr(0, 15).c_str());
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
  // Expected wait of a task queued now: none while a thread is idle, else the
  // ones ahead and one running, each taking the recent mean, spread over the
  // threads. Admitted only within half the bound, so that an estimate that was
  // too low rarely ends in an expiry.
  const size_t idle = threads_.size() - busy_;
  const bool too_long = max_wait_ms_ > 0 && mean_task_ms_ > 0 && queue_.size() >= idle &&
                        static_cast<double>(queue_.size() - idle + 1) * mean_task_ms_ >
                            0.5 * static_cast<double>(max_wait_ms_) * static_cast<double>(threads_.size());
  if (stopping_ || queue_.size() >= max_queued_ || too_long) {
    ++rejected_;
    lock.unlock();
  }
  return lock;
}

void WorkerPool::Loop() {
  if (nice_ > 0) {
    // On Linux a thread id names one thread here; a failure (not permitted)
    // leaves the default priority, which is only slower for the reactors.
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    errno = 0;
    const int current = ::getpriority(PRIO_PROCESS, tid);
    if (errno == 0) (void)::setpriority(PRIO_PROCESS, tid, std::min(19, current + nice_));
  }
  for (;;) {
    std::optional<Task> task;
    bool expired = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Drain what was accepted before stopping: an accepted task always completes.
      if (queue_.empty()) return;
      expired = max_wait_ms_ > 0 && clock_.MonotonicMs() - queue_.front().at_ms > max_wait_ms_;
      if (expired) ++expired_;
      task.emplace(std::move(queue_.front().task));
      queue_.pop_front();
      ++busy_;
    }
    (*task)(expired);  // marks this thread idle itself, before it answers
  }
}

void WorkerPool::MarkIdle() {
  std::lock_guard lock(mu_);
  --busy_;
}

void WorkerPool::RecordRunTime(int64_t ms) {
  if (max_wait_ms_ <= 0) return;
  const auto took = static_cast<double>(ms);
  std::lock_guard lock(mu_);
  mean_task_ms_ = mean_task_ms_ == 0 ? took : 0.8 * mean_task_ms_ + 0.2 * took;
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t WorkerPool::rejected() const {
  std::lock_guard lock(mu_);
  return rejected_ + expired_;
}

size_t WorkerPool::expired() const {
  std::lock_guard lock(mu_);
  return expired_;
}

}  // namespace shopd::exec

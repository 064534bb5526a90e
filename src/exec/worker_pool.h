// exec: a bounded pool of threads for blocking work (SQLite, argon2), so that
// no reactor thread ever blocks. Depends on core.
//
// `co_await pool.Run(fn)` runs `fn` on a pool thread and resumes the awaiting
// coroutine on its own executor with fn's result. The queue is bounded: when it
// is full, Run fails fast with Errc::kUnavailable instead of queueing without
// limit (the HTTP edge answers 503 + Retry-After).
//
//   core::Result<User> u = co_await pool.Run([&] { return db.FindUser(id); });
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/associated_executor.hpp>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace shopd::exec {

struct WorkerPoolOptions {
  size_t threads = 1;
  size_t max_queued = 64;  // tasks allowed to wait; beyond that Run fails fast
  std::string name = "worker";
  // > 0 lowers the threads' scheduling priority by that much (Linux
  // per-thread nice), so CPU-bound work on them (password hashing) yields
  // to the reactor threads.
  int nice = 0;
  // > 0: a task whose expected wait for a thread (the tasks ahead of it
  // times the recent mean run time, over the threads) is longer than half of
  // this is refused at once, like one finding the queue full; and one that still
  // waited longer when a thread takes it fails instead of running. So a
  // caller never waits long for a pool whose threads get little CPU.
  int64_t max_wait_ms = 0;
  // Measures that wait; null = core::SystemClock (tests inject a ManualClock).
  const core::Clock* clock = nullptr;
};

class WorkerPool {
 public:
  // `threads` workers, at most `max_queued` tasks waiting.
  WorkerPool(size_t threads, size_t max_queued, std::string name = "worker");
  explicit WorkerPool(WorkerPoolOptions options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs fn() on a pool thread. fn must return core::Result<T>.
  template <class Fn>
  auto Run(Fn fn) -> boost::asio::awaitable<std::invoke_result_t<Fn&>> {
    using R = std::invoke_result_t<Fn&>;
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
        [this](auto handler, Fn fn) mutable {
          auto ex = boost::asio::get_associated_executor(handler);
          std::unique_lock<std::mutex> slot = AcquireSlot();
          if (!slot.owns_lock()) {
            // Rejected: answer at once on the caller's executor.
            R overloaded = core::Error{core::Errc::kUnavailable, "server is overloaded, retry shortly",
                                       {}, "worker pool queue full", 1, {}};
            boost::asio::post(ex, [handler = std::move(handler), r = std::move(overloaded)]() mutable {
              std::move(handler)(std::move(r));
            });
            return;
          }
          // Braces, not emplace: clang 14 lacks parenthesized aggregate initialization.
          queue_.push_back(Queued{Task([this, fn = std::move(fn), handler = std::move(handler), ex](bool expired) mutable {
            // An exception must not escape into the pool thread (std::terminate);
            // it becomes an internal error for the awaiting coroutine.
            R result = [&]() -> R {
              if (expired)
                return core::Error{core::Errc::kUnavailable, "server is overloaded, retry shortly",
                                   {}, "waited too long in the worker pool queue", 1, {}};
              const int64_t started_ms = clock_.MonotonicMs();
              try {
                R r = fn();
                // Before the caller resumes, so its next Run sees this run time.
                RecordRunTime(clock_.MonotonicMs() - started_ms);
                return r;
              } catch (const std::exception& e) {
                return core::Error{core::Errc::kInternal, "internal error", {}, e.what(), 0, {}};
              }
            }();
            // Idle before the caller resumes: its next Run must not count this thread as busy.
            MarkIdle();
            boost::asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
              std::move(handler)(std::move(result));
            });
          }), clock_.MonotonicMs()});
          slot.unlock();
          cv_.notify_one();
        },
        boost::asio::use_awaitable, std::move(fn));
  }

  // Blocking variant for start-up code and tests (not for reactor threads).
  template <class Fn>
  auto RunSync(Fn fn) -> std::invoke_result_t<Fn&> {
    return fn();
  }

  // Stops taking tasks, finishes the accepted ones and joins the threads.
  // Idempotent; the destructor calls it.
  void Shutdown();

  size_t queued() const;
  size_t threads() const { return threads_.size(); }
  // Refused because the queue was full, plus failed for waiting too long.
  size_t rejected() const;
  size_t expired() const;

 private:
  // A move-only type-erased task (std::function needs copyable callables).
  class Task {
   public:
    template <class F>
    explicit Task(F f) : impl_(new Impl<F>(std::move(f))) {}
    Task(Task&&) noexcept = default;
    Task& operator=(Task&&) noexcept = default;
    // `expired`: fail the task instead of running it.
    void operator()(bool expired) { impl_->Call(expired); }

   private:
    struct Base {
      virtual ~Base() = default;
      virtual void Call(bool expired) = 0;
    };
    template <class F>
    struct Impl final : Base {
      explicit Impl(F f) : f(std::move(f)) {}
      void Call(bool expired) override { f(expired); }
      F f;
    };
    std::unique_ptr<Base> impl_;
  };

  // Locked when the queue has room (push, then unlock and notify); unlocked
  // (and counted as a rejection) when it is full or stopping.
  std::unique_lock<std::mutex> AcquireSlot();
  void RecordRunTime(int64_t ms);
  void MarkIdle();
  void Loop();
  struct Queued {
    Task task;
    int64_t at_ms;
  };

  const size_t max_queued_;
  const int nice_;
  const int64_t max_wait_ms_;
  const core::Clock& clock_;
  double mean_task_ms_ = 0;  // moving average of the run time of recent tasks
  size_t busy_ = 0;          // threads running a task
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  size_t rejected_ = 0;
  size_t expired_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace shopd::exec

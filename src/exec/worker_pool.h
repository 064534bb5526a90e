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

#include "core/error.h"

namespace shopd::exec {

class WorkerPool {
 public:
  // `threads` workers, at most `max_queued` tasks waiting.
  WorkerPool(size_t threads, size_t max_queued, std::string name = "worker");
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
          queue_.emplace_back([fn = std::move(fn), handler = std::move(handler), ex]() mutable {
            // An exception must not escape into the pool thread (std::terminate);
            // it becomes an internal error for the awaiting coroutine.
            R result = [&]() -> R {
              try {
                return fn();
              } catch (const std::exception& e) {
                return core::Error{core::Errc::kInternal, "internal error", {}, e.what(), 0, {}};
              }
            }();
            boost::asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
              std::move(handler)(std::move(result));
            });
          });
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
  size_t rejected() const;

 private:
  // A move-only type-erased task (std::function needs copyable callables).
  class Task {
   public:
    template <class F>
    explicit Task(F f) : impl_(new Impl<F>(std::move(f))) {}
    Task(Task&&) noexcept = default;
    Task& operator=(Task&&) noexcept = default;
    void operator()() { impl_->Call(); }

   private:
    struct Base {
      virtual ~Base() = default;
      virtual void Call() = 0;
    };
    template <class F>
    struct Impl final : Base {
      explicit Impl(F f) : f(std::move(f)) {}
      void Call() override { f(); }
      F f;
    };
    std::unique_ptr<Base> impl_;
  };

  // Locked when the queue has room (push, then unlock and notify); unlocked
  // (and counted as a rejection) when it is full or stopping.
  std::unique_lock<std::mutex> AcquireSlot();
  void Loop();

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  size_t rejected_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace shopd::exec

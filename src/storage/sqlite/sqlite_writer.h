// storage/sqlite: group commit — one thread owns the writes and commits many
// callers' write transactions together.
//
// SQLite has one writer at a time; several threads each running their own
// small transactions mostly fight over that lock and pay a commit each. The
// writer instead takes every write waiting (up to `max_batch`), runs each in
// its own SAVEPOINT inside ONE transaction (a failing write rolls back alone),
// commits once, and only then completes the callers. A caller's result is
// therefore durable (WAL, survives kill -9) when its coroutine resumes.
//
//   core::Result<Order> o = co_await writer.Run([&](Connection& c) { return Create(c, order); });
//
// Bounded: when `max_queued` writes wait, Run fails fast with kUnavailable.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_database.h"

namespace shopd::storage::sqlite {

class SqliteWriter {
 public:
  explicit SqliteWriter(SqliteDatabase& db, size_t max_queued = 16384, size_t max_batch = 512);
  ~SqliteWriter();
  SqliteWriter(const SqliteWriter&) = delete;
  SqliteWriter& operator=(const SqliteWriter&) = delete;

  // Runs fn(conn) inside the next group commit; fn returns core::Result<T>.
  // An error result rolls back fn's changes only.
  template <class Fn>
  auto Run(Fn fn) -> boost::asio::awaitable<std::invoke_result_t<Fn&, Connection&>> {
    using R = std::invoke_result_t<Fn&, Connection&>;
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
        [this](auto handler, Fn fn) mutable {
          using H = decltype(handler);
          boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler);
          std::unique_ptr<Task> task = std::make_unique<TaskImpl<R, Fn, H>>(std::move(fn), std::move(handler), ex);
          if (!Enqueue(task)) {
            task->Fail(Overloaded());
            std::vector<std::unique_ptr<Task>> one;
            one.push_back(std::move(task));
            DeliverAll(one);
          }
        },
        boost::asio::use_awaitable, std::move(fn));
  }

  // Finishes what is queued, then stops the thread. Idempotent.
  void Shutdown();

  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }

 private:
  // One caller's write. Its result is handed back on the caller's executor:
  // after a commit, every task of one executor in a single post (a post per
  // task would wake the caller's thread once per write).
  struct Task {
    virtual ~Task() = default;
    virtual void Execute(Connection& conn) = 0;  // inside the batch transaction
    virtual void Fail(core::Error error) = 0;    // the batch (or the enqueue) failed
    virtual void Deliver() = 0;                  // on executor(): resumes the caller
    virtual const boost::asio::any_io_executor& executor() const = 0;
  };

  template <class R, class Fn, class H>
  struct TaskImpl final : Task {
    TaskImpl(Fn f, H h, boost::asio::any_io_executor e) : fn(std::move(f)), handler(std::move(h)), ex(std::move(e)) {}
    void Execute(Connection& conn) override {
      auto step = Transaction::BeginImmediate(conn);  // a SAVEPOINT inside the batch
      if (!step) {
        result.emplace(step.error());
        return;
      }
      try {
        result.emplace(fn(conn));
      } catch (const std::exception& e) {
        result.emplace(core::Error{core::Errc::kInternal, "internal error", {}, e.what(), 0, {}});
      }
      if (*result) {
        if (auto c = step->Commit(); !c) result.emplace(c.error());
      }
    }
    void Fail(core::Error error) override { result.emplace(std::move(error)); }
    void Deliver() override { std::move(handler)(std::move(*result)); }
    const boost::asio::any_io_executor& executor() const override { return ex; }
    Fn fn;
    H handler;
    boost::asio::any_io_executor ex;
    std::optional<R> result;
  };

  static core::Error Overloaded() {
    return core::Error{core::Errc::kUnavailable, "server is overloaded, retry shortly", {}, "write queue full", 1, {}};
  }
  bool Enqueue(std::unique_ptr<Task>& task) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || queue_.size() >= max_queued_) return false;
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }
  void Loop();
  // Hands each task's result back, one post per executor; empties `tasks`.
  static void DeliverAll(std::vector<std::unique_ptr<Task>>& tasks);

  SqliteDatabase& db_;
  const size_t max_queued_;
  const size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Task>> queue_;
  bool stopping_ = false;
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> writes_{0};
  std::thread thread_;
};

}  // namespace shopd::storage::sqlite

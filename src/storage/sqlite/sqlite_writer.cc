#include "storage/sqlite/sqlite_writer.h"

#include <pthread.h>

#include <algorithm>
#include <iterator>

namespace shopd::storage::sqlite {

SqliteWriter::SqliteWriter(SqliteDatabase& db, size_t max_queued, size_t max_batch)
    : db_(db), max_queued_(max_queued), max_batch_(max_batch), thread_([this] { Loop(); }) {
  pthread_setname_np(thread_.native_handle(), "shopd-writer");
}

SqliteWriter::~SqliteWriter() { Shutdown(); }

void SqliteWriter::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SqliteWriter::Loop() {
  std::vector<std::unique_ptr<Task>> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything accepted is done
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    auto committed = db_.WithConnection([&](Connection& conn) -> core::Result<void> {
      auto tx = Transaction::BeginImmediate(conn);
      if (!tx) return tx.error();
      SqliteDatabase::ScopedBinding bind(&db_, &conn);
      for (auto& task : batch) task->Execute(conn);
      return tx->Commit();
    });
    if (committed) {
      commits_.fetch_add(1, std::memory_order_relaxed);
      writes_.fetch_add(batch.size(), std::memory_order_relaxed);
    } else {
      // Nothing of this batch is in the database: every caller learns so.
      for (auto& task : batch) task->Fail(committed.error());
    }
    DeliverAll(batch);
  }
}

void SqliteWriter::DeliverAll(std::vector<std::unique_ptr<Task>>& tasks) {
  // Callers sit on a few executors (a reactor or two, the background loop),
  // so a linear search over the groups is cheap.
  std::vector<std::vector<std::unique_ptr<Task>>> groups;
  for (auto& task : tasks) {
    auto same = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.front()->executor() == task->executor(); });
    if (same == groups.end()) {
      groups.emplace_back();
      same = std::prev(groups.end());
    }
    same->push_back(std::move(task));
  }
  tasks.clear();
  for (auto& group : groups) {
    const boost::asio::any_io_executor ex = group.front()->executor();
    boost::asio::post(ex, [group = std::move(group)]() mutable {
      for (auto& task : group) task->Deliver();
    });
  }
}

}  // namespace shopd::storage::sqlite

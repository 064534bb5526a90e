// storage/sqlite: tells this process that some process committed to the
// database, so background loops can sleep until there is work instead of
// polling. Depends on Asio and Linux inotify.
//
// In WAL mode every commit appends to `<db>-wal` with write(2), which inotify
// reports as IN_MODIFY on the file's directory, whatever process wrote it.
// Readers never write the WAL (the -shm index is changed through mmap, which
// inotify does not see), so a loop that only reads does not wake itself.
// Wakes are coalesced: after one, the watcher waits `min_gap` before it looks
// again, so a busy database costs at most 1000 / min_gap wakes a second.
//
//   SqliteChangeWatcher w(executor, db.path(), [&] { consumer.Notify(); }, 5ms);
//   if (!w.Start()) ... keep polling (no inotify here)
//   co_await w.Stop();
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"

namespace shopd::storage::sqlite {

class SqliteChangeWatcher {
 public:
  SqliteChangeWatcher(boost::asio::any_io_executor executor, std::string db_path, std::function<void()> on_change,
                      std::chrono::milliseconds min_gap);
  ~SqliteChangeWatcher();
  SqliteChangeWatcher(const SqliteChangeWatcher&) = delete;
  SqliteChangeWatcher& operator=(const SqliteChangeWatcher&) = delete;

  // Starts watching; an error (no inotify, too many watches) leaves the
  // callers to poll. Call once.
  core::Result<void> Start();
  // Completes once the watch loop has returned; `on_change` is not called
  // after. Idempotent; any executor.
  boost::asio::awaitable<void> Stop();

  uint64_t wakes() const;  // times on_change ran

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace shopd::storage::sqlite

// app: the pipeline's backend in the embedded topology — the event log and
// job queue in the SQLite file, writes group-committed through the writer,
// other processes' commits heard through inotify on the WAL
// (storage/sqlite/sqlite_change_watcher.h). Depends on events/sqlite,
// queue/sqlite and storage/sqlite.
#pragma once

#include <memory>
#include <optional>

#include "app/pipeline_backend.h"
#include "core/clock.h"
#include "events/sqlite/sqlite_event_log.h"
#include "exec/worker_pool.h"
#include "queue/sqlite/sqlite_job_queue.h"
#include "storage/sqlite/sqlite_change_watcher.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_writer.h"

namespace shopd::app {

class SqlitePipelineBackend final : public PipelineBackend {
 public:
  // Every argument must outlive the backend.
  SqlitePipelineBackend(storage::sqlite::SqliteDatabase& db, exec::WorkerPool& pool,
                        storage::sqlite::SqliteWriter& writer, const core::Clock& clock,
                        queue::JobQueueOptions queue_options);

  events::EventLog& event_log() override { return event_log_; }
  queue::JobQueue& jobs() override { return jobs_; }
  std::unique_ptr<events::OutboxRelay> MakeRelay(events::OutboxRelayOptions options) override;
  boost::asio::awaitable<core::Result<size_t>> TrimEvents(int64_t cutoff_ms, size_t max_rows) override;
  core::Result<void> WatchCommits(boost::asio::any_io_executor executor, std::function<void()> wake) override;
  boost::asio::awaitable<void> StopWatching() override;

 private:
  storage::sqlite::SqliteDatabase& db_;
  exec::WorkerPool& pool_;
  events::sqlite::SqliteEventLog event_log_;
  queue::sqlite::SqliteJobQueue jobs_;
  std::optional<storage::sqlite::SqliteChangeWatcher> watcher_;
};

}  // namespace shopd::app

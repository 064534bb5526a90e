#include "app/sqlite_pipeline_backend.h"

#include <chrono>
#include <utility>

#include "events/sqlite/sqlite_outbox_relay.h"

namespace shopd::app {

// Commits closer together than this wake the loops once.
constexpr auto kWatchGap = std::chrono::milliseconds(5);

SqlitePipelineBackend::SqlitePipelineBackend(storage::sqlite::SqliteDatabase& db, exec::WorkerPool& pool,
                                             storage::sqlite::SqliteWriter& writer, const core::Clock& clock,
                                             queue::JobQueueOptions queue_options)
    : db_(db), pool_(pool), event_log_(db, pool, clock), jobs_(db, pool, clock, std::move(queue_options)) {
  event_log_.UseWriter(&writer);
  jobs_.UseWriter(&writer);
}

std::unique_ptr<events::OutboxRelay> SqlitePipelineBackend::MakeRelay(events::OutboxRelayOptions options) {
  return std::make_unique<events::sqlite::SqliteOutboxRelay>(db_, pool_, event_log_, std::move(options));
}

boost::asio::awaitable<core::Result<size_t>> SqlitePipelineBackend::TrimEvents(int64_t cutoff_ms, size_t max_rows) {
  auto trim = [this, cutoff_ms, max_rows] { return event_log_.TrimSync(cutoff_ms, max_rows); };
  co_return co_await pool_.Run(trim);
}

core::Result<void> SqlitePipelineBackend::WatchCommits(boost::asio::any_io_executor executor,
                                                       std::function<void()> wake) {
  watcher_.emplace(executor, db_.path(), std::move(wake), kWatchGap);
  auto started = watcher_->Start();
  if (!started) watcher_.reset();
  return started;
}

boost::asio::awaitable<void> SqlitePipelineBackend::StopWatching() {
  if (watcher_) co_await watcher_->Stop();
}

}  // namespace shopd::app

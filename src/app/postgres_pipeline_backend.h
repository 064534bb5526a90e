// app: the pipeline's backend in the scale-out topology — the event log, job
// queue and outbox in PostgreSQL, shared by every replica; other replicas'
// relayed batches heard through LISTEN/NOTIFY (one notification per relay
// batch, storage/postgres/pg_listener.h). Depends on events/postgres,
// queue/postgres and storage/postgres.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "app/pipeline_backend.h"
#include "core/clock.h"
#include "events/postgres/pg_event_log.h"
#include "queue/postgres/pg_job_queue.h"
#include "storage/postgres/pg_listener.h"
#include "storage/postgres/pg_pool.h"

namespace shopd::app {

class PostgresPipelineBackend final : public PipelineBackend {
 public:
  // `pool` and `clock` must outlive the backend; `conninfo` is the pool's
  // database, for the listening connection.
  PostgresPipelineBackend(storage::postgres::PgPool& pool, std::string conninfo, const core::Clock& clock,
                          queue::JobQueueOptions queue_options);

  events::EventLog& event_log() override { return event_log_; }
  queue::JobQueue& jobs() override { return jobs_; }
  std::unique_ptr<events::OutboxRelay> MakeRelay(events::OutboxRelayOptions options) override;
  boost::asio::awaitable<core::Result<size_t>> TrimEvents(int64_t cutoff_ms, size_t max_rows) override;
  core::Result<void> WatchCommits(boost::asio::any_io_executor executor, std::function<void()> wake) override;
  boost::asio::awaitable<void> StopWatching() override;

 private:
  storage::postgres::PgPool& pool_;
  const std::string conninfo_;
  events::postgres::PgEventLog event_log_;
  queue::postgres::PgJobQueue jobs_;
  std::optional<storage::postgres::PgListener> listener_;
};

}  // namespace shopd::app

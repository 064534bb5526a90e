// app: what the order pipeline (app/order_pipeline.h) needs from a topology —
// an event log, a job queue, the relay from its outbox, retention, and word
// of commits made by other processes — so that the pipeline is one piece of
// code over SQLite and over PostgreSQL. Depends on events and queue.
//
// Implementations: app/sqlite_pipeline_backend.h (embedded: one SQLite file,
// other processes heard through inotify on its WAL) and
// app/postgres_pipeline_backend.h (scale-out: PostgreSQL, other replicas heard
// through LISTEN/NOTIFY).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/error.h"
#include "events/event_log.h"
#include "events/outbox_relay.h"
#include "queue/job_queue.h"

namespace shopd::app {

class PipelineBackend {
 public:
  virtual ~PipelineBackend() = default;

  virtual events::EventLog& event_log() = 0;
  virtual queue::JobQueue& jobs() = 0;
  // The relay from the stores' outbox into event_log().
  virtual std::unique_ptr<events::OutboxRelay> MakeRelay(events::OutboxRelayOptions options) = 0;
  // Deletes up to `max_rows` events created before `cutoff_ms`; how many went.
  virtual boost::asio::awaitable<core::Result<size_t>> TrimEvents(int64_t cutoff_ms, size_t max_rows) = 0;

  // From now on calls `wake` (on `executor`) soon after another process
  // committed something the loops may want. An error: this backend cannot
  // tell (the loops then poll).
  virtual core::Result<void> WatchCommits(boost::asio::any_io_executor executor, std::function<void()> wake) = 0;
  // Stops the watching; call on `executor`, after the loops stopped.
  virtual boost::asio::awaitable<void> StopWatching() = 0;
};

}  // namespace shopd::app

// events/postgres: EventLog on PostgreSQL (the scale-out topology, tables
// `events`, `topic_heads` and `consumer_offsets`, storage/postgres migration
// 4). Depends on events and storage/postgres.
//
// Same behaviour as events/sqlite's, checked by the same contract suite; each
// call is a coroutine on the pool, with the pool's deadlines, never blocking a
// thread. Time is this log's clock (never the server's now()).
//
// No reader ever skips an event that commits late. Offsets come from the
// topic's `topic_heads` row, not from a sequence: an append raises
// `last_offset` (INSERT ... ON CONFLICT DO UPDATE) and inserts its events in
// the same transaction, so it holds that row's lock until it commits or rolls
// back. The next append to the topic waits for the lock and continues from the
// committed value. Offsets are therefore given out in commit order and dense
// (a rollback gives its offsets back): whoever sees offset N committed sees
// every offset below it, and "offset > N" is a safe resume point for Read,
// ReadAfter and EventTail alike. The cost is one row lock per topic per append
// transaction: appends to one topic run one at a time (held for one statement
// with Append/AppendBatch, for the caller's whole transaction with
// AppendEvents), appends to different topics do not wait for each other, and
// readers never wait. A batch locks its topics in name order, so concurrent
// multi-topic batches cannot deadlock.
//
// Text columns hold what PostgreSQL stores as text: topics, keys, payloads and
// group names must be valid UTF-8 without NUL bytes (else kInvalidArgument).
//
//   PgEventLog log(pool, core::SystemClock::Instance());
//   auto offset = co_await log.Append("order.created", order_id, payload);
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "events/event_log.h"
#include "storage/postgres/pg_pool.h"

namespace shopd::events::postgres {

struct PgEventLogOptions {
  size_t max_read_batch = 1000;      // Read and ReadAfter never return more
  size_t max_append_batch = 10'000;  // larger AppendBatch calls are kInvalidArgument
  size_t max_payload_bytes = 1 << 20;
};

class PgEventLog final : public EventLog {
 public:
  // `pool` and `clock` must outlive the log; the pool's schema must be
  // migrated (storage::postgres::ApplyMigrations).
  PgEventLog(storage::postgres::PgPool& pool, const core::Clock& clock, PgEventLogOptions options = {});

  // EventLog
  Async<int64_t> Append(std::string topic, std::string key, std::string payload) override;
  Async<std::vector<int64_t>> AppendBatch(std::vector<EventInput> events) override;
  Async<std::vector<Event>> Read(std::string topic, std::string group, size_t max_events) override;
  Async<std::vector<Event>> ReadAfter(std::string topic, int64_t after_offset, size_t max_events) override;
  Async<void> Commit(std::string topic, std::string group, int64_t offset) override;
  Async<int64_t> EndOffset(std::string topic) override;
  Async<int64_t> CommittedOffset(std::string topic, std::string group) override;

  // Deletes up to `max_rows` events created before `created_before_ms`
  // (retention); how many went. Offsets are never reused: the topic heads stay.
  Async<size_t> Trim(int64_t created_before_ms, size_t max_rows);

  // Checks what AppendBatch would reject.
  core::Result<void> Validate(const std::vector<EventInput>& events) const;
  // Wall-clock milliseconds by this log's clock.
  int64_t NowMs() const;

 private:
  storage::postgres::PgPool& pool_;
  const core::Clock& clock_;
  const PgEventLogOptions options_;
};

// Appends `events` (validated by the caller, e.g. with PgEventLog::Validate)
// on `conn`, inside the caller's open transaction, as an outbox relay would:
// the topics' head rows stay locked until that transaction ends, and other
// appenders to those topics wait for it. Events without a created_ms get
// `now_ms`. Returns their offsets in input order.
boost::asio::awaitable<core::Result<std::vector<int64_t>>> AppendEvents(storage::postgres::PgConnection& conn,
                                                                         const std::vector<EventInput>& events,
                                                                         int64_t now_ms,
                                                                         std::chrono::milliseconds timeout);

}  // namespace shopd::events::postgres

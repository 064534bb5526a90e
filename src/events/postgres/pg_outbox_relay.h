// events/postgres: the outbox relay over PostgreSQL: moves committed rows of
// the `outbox` table (written by the PostgreSQL stores, storage/postgres/
// pg_outbox.h) into the PgEventLog on the same database. Depends on events
// and storage/postgres.
//
// A batch is deleted from `outbox` and appended to `events` in ONE
// transaction, so each row is published exactly once however many replicas
// relay. The relays take turns under one transaction-level advisory lock: a
// relay that finds another at work waits for it to commit and then moves
// what is left, so no row waits for the next wake-up. Under the lock a batch
// is the committed rows in id order; rows of one order are written one
// transaction after another (each holds the order's row lock), so they keep
// their order in the log.
//
// After a batch it NOTIFYs `channel` in the same transaction (one
// notification per batch, never per order; delivered on commit), so the
// event consumers and tails of every replica wake up
// (storage/postgres/pg_listener.h).
//
//   PgOutboxRelay relay(pool, event_log, {.on_relayed = [&] { consumer.Notify(); }});
//   relay.Start(io.get_executor());
#pragma once

#include <cstddef>
#include <string>

#include "events/outbox_relay.h"
#include "events/postgres/pg_event_log.h"
#include "storage/postgres/pg_pool.h"

namespace shopd::events::postgres {

// The channel a relay notifies after each batch it moved.
inline constexpr const char* kEventsChannel = "shopd_events";

class PgOutboxRelay final : public OutboxRelay {
 public:
  // `pool` and `log` (on the same database) must outlive the relay.
  PgOutboxRelay(storage::postgres::PgPool& pool, PgEventLog& log, OutboxRelayOptions options = {});

  // OutboxRelay
  Async<size_t> RelayOnce() override;

  // Rows waiting in the outbox.
  Async<int64_t> Pending();

 private:
  storage::postgres::PgPool& pool_;
  PgEventLog& log_;
};

}  // namespace shopd::events::postgres

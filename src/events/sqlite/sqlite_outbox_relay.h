// events/sqlite: the outbox relay over the embedded SQLite database: moves
// rows of the `outbox` table (written by storage::sqlite::AppendToOutbox) into an
// EventLog in id order, which is commit order. Depends on events, exec and
// storage/sqlite.
//
// When the log is a SqliteEventLog on the same database file, a batch is
// appended to `events` and deleted from `outbox` in ONE transaction: each row
// is published exactly once, even with several relays (processes) running.
// For any other log (Kafka later) a batch is appended, then deleted: at least
// once, as a crash in between publishes the batch again. Run one relay per
// database in that case.
//
//   SqliteOutboxRelay relay(*db, pool, event_log);
//   relay.Start(io.get_executor());
//   ...
//   co_await relay.Stop();
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "events/event_log.h"
#include "events/outbox_relay.h"
#include "exec/worker_pool.h"
#include "storage/sqlite/sqlite_database.h"

namespace shopd::events::sqlite {

class SqliteOutboxRelay final : public OutboxRelay {
 public:
  // db, pool and log must outlive the relay.
  SqliteOutboxRelay(storage::sqlite::SqliteDatabase& db, exec::WorkerPool& pool, EventLog& log,
                    OutboxRelayOptions options = {});

  // OutboxRelay
  Async<size_t> RelayOnce() override;

  // True when batches move in one transaction (the log shares the database).
  bool same_database() const { return local_log_ != nullptr; }
  // Rows waiting in the outbox. Blocking.
  core::Result<int64_t> PendingSync();

 private:
  struct Row {
    int64_t id = 0;
    EventInput event;
  };

  core::Result<size_t> RelayLocalSync();
  core::Result<std::vector<Row>> ReadBatchSync();
  core::Result<void> DeleteUpToSync(int64_t last_id);
  Async<size_t> RelayForeign();

  storage::sqlite::SqliteDatabase& db_;
  exec::WorkerPool& pool_;
  EventLog& log_;
  SqliteEventLog* local_log_ = nullptr;
};

}  // namespace shopd::events::sqlite

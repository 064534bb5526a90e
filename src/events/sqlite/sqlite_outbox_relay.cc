#include "events/sqlite/sqlite_outbox_relay.h"

#include <algorithm>
#include <utility>

#include "events/sqlite/sqlite_event_log.h"

namespace shopd::events::sqlite {
namespace {

using storage::sqlite::Connection;
using storage::sqlite::Transaction;

constexpr size_t kMaxBatch = 10'000;

// A plain read, so that an idle relay polling an empty outbox never takes
// the write lock.
core::Result<bool> OutboxHasRows(Connection& conn) {
  auto st = conn.Prepare("SELECT EXISTS (SELECT 1 FROM outbox)");
  if (!st) return st.error();
  auto row = st->Step();
  if (!row) return row.error();
  return st->ColumnInt64(0) != 0;
}

template <class Row>
core::Result<std::vector<Row>> SelectBatch(Connection& conn, size_t batch_size) {
  auto st = conn.Prepare("SELECT id, topic, key, payload, created_ms FROM outbox ORDER BY id LIMIT ?");
  if (!st) return st.error();
  st->Bind(1, static_cast<int64_t>(batch_size));
  std::vector<Row> rows;
  for (;;) {
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return rows;
    Row r;
    r.id = st->ColumnInt64(0);
    r.event.topic = st->ColumnText(1);
    r.event.key = st->ColumnText(2);
    r.event.payload = st->ColumnText(3);
    r.event.created_ms = st->ColumnInt64(4);
    rows.push_back(std::move(r));
  }
}

// Ids only grow (AUTOINCREMENT) and the batch is the oldest rows, so the
// rows up to the batch's last id are exactly the batch.
core::Result<void> DeleteUpTo(Connection& conn, int64_t last_id) {
  auto st = conn.Prepare("DELETE FROM outbox WHERE id <= ?");
  if (!st) return st.error();
  st->Bind(1, last_id);
  return st->Run();
}

}  // namespace

SqliteOutboxRelay::SqliteOutboxRelay(storage::sqlite::SqliteDatabase& db, exec::WorkerPool& pool, EventLog& log,
                                     OutboxRelayOptions options)
    : OutboxRelay([&] {
        options.batch_size = std::clamp<size_t>(options.batch_size, 1, kMaxBatch);
        return std::move(options);
      }()),
      db_(db),
      pool_(pool),
      log_(log) {
  auto* sqlite_log = dynamic_cast<SqliteEventLog*>(&log);
  if (sqlite_log != nullptr && sqlite_log->database().path() == db.path()) local_log_ = sqlite_log;
}

Async<size_t> SqliteOutboxRelay::RelayOnce() {
  if (same_database()) {
    // The log's writer, when it has one, takes the batch into its group commit.
    if (auto* writer = local_log_->writer())
      return writer->Run([this](storage::sqlite::Connection&) { return RelayLocalSync(); });
    return pool_.Run([this] { return RelayLocalSync(); });
  }
  return RelayForeign();
}

core::Result<size_t> SqliteOutboxRelay::RelayLocalSync() {
  return db_.WithConnection([&](Connection& conn) -> core::Result<size_t> {
    auto pending = OutboxHasRows(conn);
    if (!pending) return pending.error();
    if (!*pending) return size_t{0};
    auto tx = Transaction::BeginImmediate(conn);
    if (!tx) return tx.error();
    auto rows = SelectBatch<Row>(conn, options().batch_size);
    if (!rows) return rows.error();
    if (rows->empty()) return size_t{0};
    std::vector<EventInput> events;
    events.reserve(rows->size());
    for (Row& r : *rows) events.push_back(std::move(r.event));
    auto offsets = AppendEvents(conn, events, local_log_->NowMs());
    if (!offsets) return offsets.error();
    if (auto r = DeleteUpTo(conn, rows->back().id); !r) return r.error();
    if (auto r = tx->Commit(); !r) return r.error();
    return rows->size();
  });
}

core::Result<std::vector<SqliteOutboxRelay::Row>> SqliteOutboxRelay::ReadBatchSync() {
  return db_.WithConnection([&](Connection& conn) -> core::Result<std::vector<Row>> {
    auto pending = OutboxHasRows(conn);
    if (!pending) return pending.error();
    if (!*pending) return std::vector<Row>{};
    return SelectBatch<Row>(conn, options().batch_size);
  });
}

core::Result<void> SqliteOutboxRelay::DeleteUpToSync(int64_t last_id) {
  return db_.WithConnection([&](Connection& conn) { return DeleteUpTo(conn, last_id); });
}

Async<size_t> SqliteOutboxRelay::RelayForeign() {
  auto read = [this] { return ReadBatchSync(); };
  core::Result<std::vector<Row>> rows = co_await pool_.Run(read);
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return size_t{0};

  const int64_t last_id = rows->back().id;
  const size_t count = rows->size();
  std::vector<EventInput> events;
  events.reserve(count);
  for (Row& r : *rows) events.push_back(std::move(r.event));
  // Appended but not yet deleted: a crash here publishes the batch again.
  core::Result<std::vector<int64_t>> appended = co_await log_.AppendBatch(std::move(events));
  if (!appended) co_return appended.error();

  auto remove = [this, last_id] { return DeleteUpToSync(last_id); };
  core::Result<void> deleted = co_await pool_.Run(remove);
  if (!deleted) co_return deleted.error();
  co_return count;
}

core::Result<int64_t> SqliteOutboxRelay::PendingSync() {
  return db_.WithConnection([](Connection& conn) -> core::Result<int64_t> {
    auto st = conn.Prepare("SELECT COUNT(*) FROM outbox");
    if (!st) return st.error();
    auto row = st->Step();
    if (!row) return row.error();
    return st->ColumnInt64(0);
  });
}

}  // namespace shopd::events::sqlite

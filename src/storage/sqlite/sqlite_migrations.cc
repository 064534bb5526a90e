#include "storage/sqlite/sqlite_migrations.h"

#include <string>

#include "storage/sqlite/sqlite_connection.h"

namespace shopd::storage::sqlite {
namespace {

constexpr Migration kMigrations[] = {
    {1, "users and refresh tokens", R"sql(
CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id),
  family_id  TEXT NOT NULL,
  issued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  spent_at   INTEGER,
  revoked_at INTEGER
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens(family_id);
)sql"},
    {2, "job queue, event log, outbox", R"sql(
-- queue/sqlite. run_at_ms: when a ready job is due; for a dead one, when it
-- died. Completed jobs are deleted and counted in job_counters. AUTOINCREMENT:
-- a job id is never reused, so a stale id cannot name a newer job.
CREATE TABLE jobs (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  queue          TEXT NOT NULL,
  payload        TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('ready', 'leased', 'dead', 'done')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  max_attempts   INTEGER NOT NULL,
  run_at_ms      INTEGER NOT NULL,
  lease_until_ms INTEGER,
  lease_token    TEXT,
  dedupe_key     TEXT,
  last_error     TEXT,
  created_ms     INTEGER NOT NULL
);
-- UNIQUE(queue, dedupe_key) over the rows that have a key only.
CREATE UNIQUE INDEX jobs_dedupe ON jobs(queue, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- Partial indexes: the lease query scans only due jobs, in order.
CREATE INDEX jobs_ready ON jobs(queue, run_at_ms, id) WHERE state = 'ready';
CREATE INDEX jobs_leased ON jobs(queue, lease_until_ms) WHERE state = 'leased';
CREATE INDEX jobs_dead ON jobs(queue, id) WHERE state = 'dead';
CREATE TABLE job_counters (
  queue     TEXT PRIMARY KEY,
  completed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- events/sqlite. Offsets start at 1 in every topic; 0 means "none".
CREATE TABLE events (
  topic      TEXT NOT NULL,
  offset     INTEGER NOT NULL,
  key        TEXT NOT NULL,
  payload    TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (topic, offset)
) WITHOUT ROWID;
CREATE TABLE consumer_offsets (
  topic      TEXT NOT NULL,
  group_name TEXT NOT NULL,
  offset     INTEGER NOT NULL,
  PRIMARY KEY (topic, group_name)
) WITHOUT ROWID;
-- The transactional outbox: rows written in the producer's own transaction,
-- moved into events by the relay in id (= commit) order. AUTOINCREMENT: ids
-- never go back, even when the table empties.
CREATE TABLE outbox (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  topic      TEXT NOT NULL,
  key        TEXT NOT NULL,
  payload    TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
)sql"},
    {3, "catalog and orders", R"sql(
CREATE TABLE products (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  description TEXT NOT NULL,
  price_cents INTEGER NOT NULL CHECK (price_cents > 0),
  currency    TEXT NOT NULL CHECK (length(currency) = 3),
  stock       INTEGER NOT NULL CHECK (stock >= 0),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE TABLE orders (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  id              TEXT NOT NULL UNIQUE,
  user_id         TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelled')),
  reason          TEXT NOT NULL DEFAULT '',
  total_cents     INTEGER NOT NULL,
  currency        TEXT NOT NULL,
  stock_reserved  INTEGER NOT NULL DEFAULT 0 CHECK (stock_reserved IN (0, 1)),
  payment         TEXT NOT NULL DEFAULT '' CHECK (payment IN ('', 'approved', 'declined')),
  idempotency_key TEXT NOT NULL,
  request_hash    TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (user_id, idempotency_key),
  -- A confirmed order holds its stock and was paid; a final failure holds none.
  CHECK (status <> 'confirmed' OR (stock_reserved = 1 AND payment = 'approved')),
  CHECK (status NOT IN ('rejected', 'cancelled') OR stock_reserved = 0)
);
CREATE INDEX orders_by_user ON orders (user_id, seq);
CREATE TABLE order_items (
  order_id         TEXT NOT NULL REFERENCES orders (id),
  product_id       TEXT NOT NULL REFERENCES products (id),
  quantity         INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
  unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents > 0),
  PRIMARY KEY (order_id, product_id)
);
-- The status machine lives in the store, so no code path can break it:
-- pending -> confirmed | rejected | cancelled, confirmed -> cancelled.
CREATE TRIGGER orders_status_machine BEFORE UPDATE OF status ON orders
WHEN NEW.status <> OLD.status AND NOT (
  (OLD.status = 'pending' AND NEW.status IN ('confirmed', 'rejected', 'cancelled')) OR
  (OLD.status = 'confirmed' AND NEW.status = 'cancelled'))
BEGIN
  SELECT RAISE(ABORT, 'illegal order status transition');
END;
)sql"},
};

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

core::Result<void> ApplyMigrations(Connection& conn, std::span<const Migration> migrations) {
  auto tx = Transaction::BeginImmediate(conn);
  if (!tx) return tx.error();
  if (auto r = conn.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version INTEGER PRIMARY KEY, applied_at INTEGER)");
      !r) {
    return r.error();
  }

  int64_t current = 0;
  {
    auto st = conn.PrepareUncached("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!st) return st.error();
    auto row = st->Step();
    if (!row) return row.error();
    current = st->ColumnInt64(0);
  }
  const int64_t latest = migrations.empty() ? 0 : migrations.back().version;
  if (current > latest) {
    return core::Error::Make(core::Errc::kInternal, "internal error",
                             "database schema version " + std::to_string(current) +
                                 " is newer than this build knows (" + std::to_string(latest) + ")");
  }

  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    if (auto r = conn.Exec(std::string(m.sql)); !r) {
      core::Error e = r.error();
      e.internal = "migration " + std::to_string(m.version) + " (" + std::string(m.name) + "): " + e.internal;
      return e;
    }
    auto record = conn.PrepareUncached(
        "INSERT INTO schema_migrations (version, applied_at) "
        "VALUES (?, CAST(strftime('%s', 'now') AS INTEGER))");
    if (!record) return record.error();
    record->Bind(1, int64_t{m.version});
    if (auto r = record->Run(); !r) return r.error();
  }
  return tx->Commit();
}

}  // namespace shopd::storage::sqlite

#include "storage/sqlite/sqlite_migrations.h"

#include <set>
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
    {4, "orders: per-user pending counts", R"sql(
-- Pending orders per user, kept by the database itself so the cap on them is
-- checked against an exact count inside the order's own transaction.
CREATE TABLE pending_orders (
  user_id TEXT PRIMARY KEY,
  pending INTEGER NOT NULL CHECK (pending >= 0)
) WITHOUT ROWID;
INSERT INTO pending_orders (user_id, pending)
  SELECT user_id, count(*) FROM orders WHERE status = 'pending' GROUP BY user_id;
CREATE TRIGGER orders_pending_insert AFTER INSERT ON orders WHEN NEW.status = 'pending'
BEGIN
  INSERT INTO pending_orders (user_id, pending) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET pending = pending + 1;
END;
CREATE TRIGGER orders_pending_leave AFTER UPDATE OF status ON orders
WHEN OLD.status = 'pending' AND NEW.status <> 'pending'
BEGIN
  UPDATE pending_orders SET pending = pending - 1 WHERE user_id = OLD.user_id;
END;
)sql"},
    {5, "users: token versions; refresh-token family lifetimes", R"sql(
-- Raised by every revocation of a user's sessions; access tokens carry the
-- version they were signed at.
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
-- A family's absolute lifetime counts from its login. Existing families
-- started with their oldest token still on file.
ALTER TABLE refresh_tokens ADD COLUMN family_started_at INTEGER NOT NULL DEFAULT 0;
UPDATE refresh_tokens SET family_started_at =
  (SELECT MIN(r.issued_at) FROM refresh_tokens r WHERE r.family_id = refresh_tokens.family_id);
-- Revoking all of a user's tokens without a scan.
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
-- The purge reads only rows it may delete: families past their lifetime, and
-- expired rows other than spent tokens of a live family (those stay, so that
-- their replay is still recognised as reuse).
CREATE INDEX refresh_tokens_family_started_at ON refresh_tokens (family_started_at);
CREATE INDEX refresh_tokens_purgeable ON refresh_tokens (expires_at)
  WHERE spent_at IS NULL OR revoked_at IS NOT NULL;
)sql"},
    {6, "orders: refunds (cancelling, refund_pending, refunded)", R"sql(
-- SQLite cannot change a CHECK in place: the orders table is rebuilt with the
-- new statuses. order_items references it, so the foreign keys are checked at
-- COMMIT (every item finds its order again by then), not at the DROP.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE orders_before_v6 AS SELECT * FROM orders;
DROP TABLE orders;
CREATE TABLE orders (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  id              TEXT NOT NULL UNIQUE,
  user_id         TEXT NOT NULL,
  status          TEXT NOT NULL
                  CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelling', 'cancelled')),
  reason          TEXT NOT NULL DEFAULT '',
  total_cents     INTEGER NOT NULL,
  currency        TEXT NOT NULL,
  stock_reserved  INTEGER NOT NULL DEFAULT 0 CHECK (stock_reserved IN (0, 1)),
  payment         TEXT NOT NULL DEFAULT ''
                  CHECK (payment IN ('', 'approved', 'declined', 'refund_pending', 'refunded')),
  idempotency_key TEXT NOT NULL,
  request_hash    TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (user_id, idempotency_key),
  -- A confirmed order holds its stock and was paid; a final failure holds none.
  CHECK (status <> 'confirmed' OR (stock_reserved = 1 AND payment = 'approved')),
  CHECK (status NOT IN ('rejected', 'cancelling', 'cancelled') OR stock_reserved = 0),
  -- A cancellation never keeps the money: it is being refunded or was.
  CHECK (status <> 'cancelling' OR payment = 'refund_pending'),
  CHECK (status <> 'cancelled' OR payment <> 'approved')
);
INSERT INTO orders SELECT * FROM orders_before_v6;
DROP TABLE orders_before_v6;
CREATE INDEX orders_by_user ON orders (user_id, seq);
-- The status machine lives in the store, so no code path can break it:
-- pending -> confirmed | rejected | cancelled | cancelling (paid, refunding),
-- confirmed -> cancelling, cancelling -> cancelled (refunded).
CREATE TRIGGER orders_status_machine BEFORE UPDATE OF status ON orders
WHEN NEW.status <> OLD.status AND NOT (
  (OLD.status = 'pending' AND NEW.status IN ('confirmed', 'rejected', 'cancelled', 'cancelling')) OR
  (OLD.status = 'confirmed' AND NEW.status = 'cancelling') OR
  (OLD.status = 'cancelling' AND NEW.status = 'cancelled' AND NEW.payment = 'refunded'))
BEGIN
  SELECT RAISE(ABORT, 'illegal order status transition');
END;
-- The payment machine: '' -> approved | declined, approved -> refund_pending
-- -> refunded. A decision is never rewritten, a refund never undone.
CREATE TRIGGER orders_payment_machine BEFORE UPDATE OF payment ON orders
WHEN NEW.payment <> OLD.payment AND NOT (
  (OLD.payment = '' AND NEW.payment IN ('approved', 'declined', 'refund_pending')) OR
  (OLD.payment = 'approved' AND NEW.payment = 'refund_pending') OR
  (OLD.payment = 'refund_pending' AND NEW.payment = 'refunded'))
BEGIN
  SELECT RAISE(ABORT, 'illegal order payment transition');
END;
CREATE TRIGGER orders_pending_insert AFTER INSERT ON orders WHEN NEW.status = 'pending'
BEGIN
  INSERT INTO pending_orders (user_id, pending) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET pending = pending + 1;
END;
CREATE TRIGGER orders_pending_leave AFTER UPDATE OF status ON orders
WHEN OLD.status = 'pending' AND NEW.status <> 'pending'
BEGIN
  UPDATE pending_orders SET pending = pending - 1 WHERE user_id = OLD.user_id;
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

  // Every applied version, not only the highest: version numbers are reserved
  // ahead by parallel work, so a file may have a later one applied before an
  // earlier one exists; the earlier one still runs when it arrives.
  int64_t current = 0;
  std::set<int64_t> applied;
  {
    auto st = conn.PrepareUncached("SELECT version FROM schema_migrations");
    if (!st) return st.error();
    for (;;) {
      auto row = st->Step();
      if (!row) return row.error();
      if (!*row) break;
      applied.insert(st->ColumnInt64(0));
    }
    if (!applied.empty()) current = *applied.rbegin();
  }
  const int64_t latest = migrations.empty() ? 0 : migrations.back().version;
  if (current > latest) {
    return core::Error::Make(core::Errc::kInternal, "internal error",
                             "database schema version " + std::to_string(current) +
                                 " is newer than this build knows (" + std::to_string(latest) + ")");
  }

  for (const Migration& m : migrations) {
    if (applied.count(m.version)) continue;
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

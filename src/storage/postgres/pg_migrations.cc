#include "storage/postgres/pg_migrations.h"

#include <string>
#include <vector>

namespace shopd::storage::postgres {
namespace {

struct Migration {
  int version;
  const char* name;
  std::vector<const char*> statements;  // one statement each: the extended protocol runs one at a time
};

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "users and refresh tokens",
       {R"sql(CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
  password_hash TEXT NOT NULL,
  created_at    BIGINT NOT NULL))sql",
        R"sql(CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id),
  family_id  TEXT NOT NULL,
  issued_at  BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  spent_at   BIGINT,
  revoked_at BIGINT))sql",
        "CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id)"}},
      // Token versions (raised by every revocation of a user's sessions) and
      // refresh-token family lifetimes (counted from the family's login;
      // existing families started with their oldest token still on file).
      {2, "users: token versions; refresh-token family lifetimes",
       {"ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE refresh_tokens ADD COLUMN family_started_at BIGINT NOT NULL DEFAULT 0",
        "UPDATE refresh_tokens SET family_started_at = f.started FROM (SELECT family_id, MIN(issued_at) AS started "
        "FROM refresh_tokens GROUP BY family_id) f WHERE refresh_tokens.family_id = f.family_id",
        "CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id)",
        // The purge reads only rows it may delete (see PgUserStore::PurgeRefreshTokens).
        "CREATE INDEX refresh_tokens_family_started_at ON refresh_tokens (family_started_at)",
        "CREATE INDEX refresh_tokens_purgeable ON refresh_tokens (expires_at) "
        "WHERE spent_at IS NULL OR revoked_at IS NOT NULL"}},
      // queue/postgres, as storage/sqlite's `jobs` and `job_counters`.
      // run_at_ms: when a ready job is due; for a dead one, when it died.
      // Completed jobs are deleted and counted in job_counters. An identity
      // column: a job id is never reused, so a stale id cannot name a newer job.
      {3, "job queue",
       {R"sql(CREATE TABLE jobs (
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue          TEXT NOT NULL,
  payload        TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('ready', 'leased', 'dead')),
  attempts       INT NOT NULL DEFAULT 0,
  max_attempts   INT NOT NULL CHECK (max_attempts > 0),
  run_at_ms      BIGINT NOT NULL,
  lease_until_ms BIGINT,
  lease_token    TEXT,
  dedupe_key     TEXT,
  last_error     TEXT,
  created_ms     BIGINT NOT NULL,
  CHECK ((state = 'leased') = (lease_until_ms IS NOT NULL AND lease_token IS NOT NULL))))sql",
        // UNIQUE (queue, dedupe_key) over the rows that have a key only.
        "CREATE UNIQUE INDEX jobs_dedupe ON jobs (queue, dedupe_key) WHERE dedupe_key IS NOT NULL",
        // Partial indexes: Lease and NextDueInMs read only due jobs, in order.
        "CREATE INDEX jobs_ready ON jobs (queue, run_at_ms, id) WHERE state = 'ready'",
        "CREATE INDEX jobs_leased ON jobs (queue, lease_until_ms, id) WHERE state = 'leased'",
        "CREATE INDEX jobs_dead ON jobs (queue, id) WHERE state = 'dead'",
        // Completions per queue, spread over shards (job id % 16) so that
        // concurrent Completes of one queue do not queue up on one row lock.
        R"sql(CREATE TABLE job_counters (
  queue     TEXT NOT NULL,
  shard     SMALLINT NOT NULL,
  completed BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, shard)))sql"}},
      // events/postgres, as storage/sqlite's `events` and `consumer_offsets`.
      // Offsets start at 1 in every topic; 0 means "none". They come from the
      // topic's `topic_heads` row, whose lock each append holds until it
      // commits, never from a sequence: offsets are dense and in commit order,
      // so a reader past offset N never skips an event that commits later.
      {4, "event log",
       {R"sql(CREATE TABLE topic_heads (
  topic       TEXT PRIMARY KEY,
  last_offset BIGINT NOT NULL CHECK (last_offset >= 0)))sql",
        R"sql(CREATE TABLE events (
  topic        TEXT NOT NULL,
  event_offset BIGINT NOT NULL CHECK (event_offset > 0),
  key          TEXT NOT NULL,
  payload      TEXT NOT NULL,
  created_ms   BIGINT NOT NULL,
  PRIMARY KEY (topic, event_offset)))sql",
        R"sql(CREATE TABLE consumer_offsets (
  topic            TEXT NOT NULL,
  group_name       TEXT NOT NULL,
  committed_offset BIGINT NOT NULL CHECK (committed_offset >= 0),
  PRIMARY KEY (topic, group_name)))sql"}},
      // storage/postgres's catalog and orders, as storage/sqlite's (migrations
      // 3, 4 and 6 there), and the transactional outbox the stores write in
      // their own transactions (events/postgres's relay moves it into
      // `events`). The status and payment machines and the per-user pending
      // count are kept by the database itself, so no code path can break them.
      {5, "catalog, orders, outbox",
       {R"sql(CREATE TABLE products (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  description TEXT NOT NULL,
  price_cents BIGINT NOT NULL CHECK (price_cents > 0),
  currency    TEXT NOT NULL CHECK (length(currency) = 3),
  stock       BIGINT NOT NULL CHECK (stock >= 0),
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL))sql",
        R"sql(CREATE TABLE orders (
  seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  user_id         TEXT NOT NULL,
  status          TEXT NOT NULL
                  CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelling', 'cancelled')),
  reason          TEXT NOT NULL DEFAULT '',
  total_cents     BIGINT NOT NULL,
  currency        TEXT NOT NULL,
  stock_reserved  BOOLEAN NOT NULL DEFAULT false,
  payment         TEXT NOT NULL DEFAULT ''
                  CHECK (payment IN ('', 'approved', 'declined', 'refund_pending', 'refunded')),
  idempotency_key TEXT NOT NULL,
  request_hash    TEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  UNIQUE (user_id, idempotency_key),
  CHECK (status <> 'confirmed' OR (stock_reserved AND payment = 'approved')),
  CHECK (status NOT IN ('rejected', 'cancelling', 'cancelled') OR NOT stock_reserved),
  CHECK (status <> 'cancelling' OR payment = 'refund_pending'),
  CHECK (status <> 'cancelled' OR payment <> 'approved')))sql",
        "CREATE INDEX orders_by_user ON orders (user_id, seq)",
        R"sql(CREATE TABLE order_items (
  order_id         TEXT NOT NULL REFERENCES orders (id),
  position         INT NOT NULL,
  product_id       TEXT NOT NULL REFERENCES products (id),
  quantity         BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
  unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents > 0),
  PRIMARY KEY (order_id, product_id)))sql",
        R"sql(CREATE TABLE pending_orders (
  user_id TEXT PRIMARY KEY,
  pending BIGINT NOT NULL CHECK (pending >= 0)))sql",
        // pending -> confirmed | rejected | cancelled | cancelling (paid,
        // refunding), confirmed -> cancelling, cancelling -> cancelled
        // (refunded); payment '' -> approved | declined | refund_pending,
        // approved -> refund_pending -> refunded (storage/order_status.h).
        R"sql(CREATE FUNCTION orders_machines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> OLD.status AND NOT (
      (OLD.status = 'pending' AND NEW.status IN ('confirmed', 'rejected', 'cancelled', 'cancelling')) OR
      (OLD.status = 'confirmed' AND NEW.status = 'cancelling') OR
      (OLD.status = 'cancelling' AND NEW.status = 'cancelled' AND NEW.payment = 'refunded')) THEN
    RAISE EXCEPTION 'illegal order status transition % -> %', OLD.status, NEW.status;
  END IF;
  IF NEW.payment <> OLD.payment AND NOT (
      (OLD.payment = '' AND NEW.payment IN ('approved', 'declined', 'refund_pending')) OR
      (OLD.payment = 'approved' AND NEW.payment = 'refund_pending') OR
      (OLD.payment = 'refund_pending' AND NEW.payment = 'refunded')) THEN
    RAISE EXCEPTION 'illegal order payment transition % -> %', OLD.payment, NEW.payment;
  END IF;
  IF OLD.status = 'pending' AND NEW.status <> 'pending' THEN
    UPDATE pending_orders SET pending = pending - 1 WHERE user_id = OLD.user_id;
  END IF;
  RETURN NEW;
END $$)sql",
        "CREATE TRIGGER orders_machines BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION orders_machines()",
        R"sql(CREATE FUNCTION orders_pending_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'pending' THEN
    INSERT INTO pending_orders AS p (user_id, pending) VALUES (NEW.user_id, 1)
      ON CONFLICT (user_id) DO UPDATE SET pending = p.pending + 1;
  END IF;
  RETURN NEW;
END $$)sql",
        "CREATE TRIGGER orders_pending_insert AFTER INSERT ON orders FOR EACH ROW "
        "EXECUTE FUNCTION orders_pending_insert()",
        // An identity column: ids never go back. They are NOT commit order
        // (concurrent transactions commit out of sequence); the relay moves
        // whatever has committed, under one lock (events/postgres).
        R"sql(CREATE TABLE outbox (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic      TEXT NOT NULL,
  key        TEXT NOT NULL,
  payload    TEXT NOT NULL,
  created_ms BIGINT NOT NULL))sql"}},
  };
  return kMigrations;
}

// Any constant: the key of the advisory lock that serialises migrating replicas.
constexpr const char* kMigrationLock = "7319004";

boost::asio::awaitable<core::Result<void>> Migrate(PgConnection& conn, std::chrono::milliseconds timeout) {
  if (auto r = co_await Run(conn, timeout, "BEGIN"); !r) co_return r.error();
  auto fail = [&](core::Error e) -> boost::asio::awaitable<core::Result<void>> {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return e;
  };
  if (auto r = co_await Run(conn, timeout, std::string("SELECT pg_advisory_xact_lock(") + kMigrationLock + ")"); !r)
    co_return co_await fail(r.error());
  if (auto r = co_await Run(conn, timeout, "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, "
                            "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      !r)
    co_return co_await fail(r.error());
  auto current = co_await Run(conn, timeout, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!current) co_return co_await fail(current.error());
  const int64_t applied = current->Int64(0, 0);
  for (const Migration& m : Migrations()) {
    if (m.version <= applied) continue;
    for (const char* statement : m.statements)
      if (auto r = co_await Run(conn, timeout, statement); !r) co_return co_await fail(r.error());
    // Named, not a braced list inside co_await: GCC 12 cannot place an
    // initializer_list's array in a coroutine frame.
    std::vector<PgParam> record{std::to_string(m.version), std::string(m.name)};
    if (auto r = co_await Run(conn, timeout, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                              std::move(record));
        !r)
      co_return co_await fail(r.error());
  }
  if (auto r = co_await Run(conn, timeout, "COMMIT"); !r) co_return r.error();
  co_return core::Result<void>{};
}

}  // namespace

int LatestSchemaVersion() { return Migrations().back().version; }

boost::asio::awaitable<core::Result<void>> CheckSchema(PgPool& pool) {
  auto table = co_await pool.Query("SELECT to_regclass('schema_migrations') IS NOT NULL", {});
  if (!table) co_return table.error();
  int64_t current = 0;
  if (table->Bool(0, 0)) {
    auto version = co_await pool.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
    if (!version) co_return version.error();
    current = version->Int64(0, 0);
  }
  const int64_t latest = LatestSchemaVersion();
  if (current == latest) co_return core::Result<void>{};
  const std::string detail = "the database schema is at version " + std::to_string(current) + ", this build needs " +
                             std::to_string(latest);
  if (current < latest)
    co_return core::Error::Make(core::Errc::kInternal,
                                detail + ": run `shopd migrate --database-url ...` first", detail);
  co_return core::Error::Make(core::Errc::kInternal,
                              detail + ": the database was migrated by a newer shopd; run that version", detail);
}

boost::asio::awaitable<core::Result<void>> ApplyMigrations(PgPool& pool) {
  const auto timeout = std::chrono::milliseconds(60'000);  // DDL may wait for other replicas' locks
  std::function<boost::asio::awaitable<core::Result<void>>(PgConnection&)> migrate =
      [timeout](PgConnection& conn) { return Migrate(conn, timeout); };
  co_return co_await pool.With<void>(migrate);
}

}  // namespace shopd::storage::postgres

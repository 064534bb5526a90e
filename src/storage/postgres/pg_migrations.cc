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

boost::asio::awaitable<core::Result<void>> ApplyMigrations(PgPool& pool) {
  const auto timeout = std::chrono::milliseconds(60'000);  // DDL may wait for other replicas' locks
  std::function<boost::asio::awaitable<core::Result<void>>(PgConnection&)> migrate =
      [timeout](PgConnection& conn) { return Migrate(conn, timeout); };
  co_return co_await pool.With<void>(migrate);
}

}  // namespace shopd::storage::postgres

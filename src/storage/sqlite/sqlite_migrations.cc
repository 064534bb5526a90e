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

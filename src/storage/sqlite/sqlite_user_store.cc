#include "storage/sqlite/sqlite_user_store.h"

#include <utility>

namespace shopd::storage::sqlite {
namespace {

// Every user query selects these, in this order (ReadUser).
#define SHOPD_USER_COLUMNS "id, email, name, role, password_hash, created_at, token_version"

User ReadUser(const Statement& st) {
  User u;
  u.id = st.ColumnText(0);
  u.email = st.ColumnText(1);
  u.name = st.ColumnText(2);
  u.role = st.ColumnText(3);
  u.password_hash = st.ColumnText(4);
  u.created_at = st.ColumnInt64(5);
  u.token_version = st.ColumnInt64(6);
  return u;
}

// Every refresh-token query selects these, in this order (ReadToken).
#define SHOPD_TOKEN_COLUMNS                                                                    \
  "token_hash, user_id, family_id, issued_at, expires_at, family_started_at, spent_at IS NOT NULL, " \
  "revoked_at IS NOT NULL"

StoredRefreshToken ReadToken(const Statement& st) {
  StoredRefreshToken s;
  s.token.token_hash = st.ColumnText(0);
  s.token.user_id = st.ColumnText(1);
  s.token.family_id = st.ColumnText(2);
  s.token.issued_at = st.ColumnInt64(3);
  s.token.expires_at = st.ColumnInt64(4);
  s.token.family_started_at = st.ColumnInt64(5);
  s.spent = st.ColumnInt64(6) != 0;
  s.revoked = st.ColumnInt64(7) != 0;
  return s;
}

core::Error InvalidToken(std::string reason) {
  return core::Error::Make(core::Errc::kUnauthenticated, "invalid refresh token", std::move(reason));
}

core::Result<User> InsertUser(Connection& conn, const User& user) {
  auto st = conn.Prepare(
      "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->Bind(1, user.id).Bind(2, user.email).Bind(3, user.name).Bind(4, user.role);
  st->Bind(5, user.password_hash).Bind(6, user.created_at);
  if (auto r = st->Run(); !r) {
    core::Error e = r.error();
    if (e.code == core::Errc::kConflict) e.message = "email is already registered";
    return e;
  }
  User stored = user;
  stored.token_version = 0;
  return stored;
}

// `sql` selects the ReadUser columns with one parameter.
core::Result<User> FindUser(Connection& conn, const char* sql, const std::string& key) {
  auto st = conn.Prepare(sql);
  if (!st) return st.error();
  st->Bind(1, key);
  auto row = st->Step();
  if (!row) return row.error();
  if (!*row) return core::Error::Make(core::Errc::kNotFound, "user not found");
  return ReadUser(*st);
}

core::Result<User> FindUserWithId(Connection& conn, const std::string& id) {
  return FindUser(conn, "SELECT " SHOPD_USER_COLUMNS " FROM users WHERE id = ?", id);
}

core::Result<User> InsertUserIfAbsent(Connection& conn, const User& user) {
  // An upsert that touches nothing (the no-op update makes RETURNING yield the
  // existing row), in one statement.
  auto st = conn.Prepare(
      "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (email) DO UPDATE SET email = users.email RETURNING " SHOPD_USER_COLUMNS);
  if (!st) return st.error();
  st->Bind(1, user.id).Bind(2, user.email).Bind(3, user.name).Bind(4, user.role);
  st->Bind(5, user.password_hash).Bind(6, user.created_at);
  auto row = st->Step();
  if (!row) return row.error();
  if (!*row) return core::Error::Make(core::Errc::kInternal, "internal error", "upsert returned no row");
  User stored = ReadUser(*st);
  if (auto r = st->Run(); !r) return r.error();
  return stored;
}

core::Result<void> RevokeAllTokensOf(Connection& conn, const std::string& user_id, int64_t now) {
  auto st = conn.Prepare("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL");
  if (!st) return st.error();
  st->Bind(1, now).Bind(2, user_id);
  return st->Run();
}

core::Result<User> RevokeSessionsOf(Connection& conn, const SessionRevocation& r, int64_t now) {
  auto tx = Transaction::BeginImmediate(conn);
  if (!tx) return tx.error();
  {
    // COALESCE keeps what is not being changed.
    auto st = conn.Prepare(
        "UPDATE users SET role = COALESCE(?, role), password_hash = COALESCE(?, password_hash), "
        "token_version = token_version + 1 WHERE id = ?");
    if (!st) return st.error();
    if (r.new_role) st->Bind(1, *r.new_role); else st->BindNull(1);
    if (r.new_password_hash) st->Bind(2, *r.new_password_hash); else st->BindNull(2);
    st->Bind(3, r.user_id);
    if (auto done = st->Run(); !done) return done.error();
    if (conn.Changes() == 0) return core::Error::Make(core::Errc::kNotFound, "user not found");
  }
  if (auto done = RevokeAllTokensOf(conn, r.user_id, now); !done) return done.error();
  auto user = FindUserWithId(conn, r.user_id);
  if (!user) return user.error();
  if (auto done = tx->Commit(); !done) return done.error();
  return user;
}

core::Result<void> InsertToken(Connection& conn, const RefreshToken& t) {
  auto st = conn.Prepare(
      "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at, family_started_at) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->Bind(1, t.token_hash).Bind(2, t.user_id).Bind(3, t.family_id);
  st->Bind(4, t.issued_at).Bind(5, t.expires_at).Bind(6, t.family_started_at);
  return st->Run();
}

core::Result<void> InsertFirstToken(Connection& conn, const RefreshToken& t, int64_t token_version) {
  // One statement: the version check and the insert cannot be split by a revocation.
  auto st = conn.Prepare(
      "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at, family_started_at) "
      "SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ? AND token_version = ?)");
  if (!st) return st.error();
  st->Bind(1, t.token_hash).Bind(2, t.user_id).Bind(3, t.family_id);
  st->Bind(4, t.issued_at).Bind(5, t.expires_at).Bind(6, t.family_started_at);
  st->Bind(7, t.user_id).Bind(8, token_version);
  if (auto r = st->Run(); !r) return r.error();
  if (conn.Changes() == 0)
    return core::Error::Make(core::Errc::kConflict, "sessions were revoked",
                             "user " + t.user_id + " is no longer at token version " + std::to_string(token_version));
  return {};
}

core::Result<StoredRefreshToken> FindToken(Connection& conn, const std::string& token_hash) {
  auto st = conn.Prepare("SELECT " SHOPD_TOKEN_COLUMNS " FROM refresh_tokens WHERE token_hash = ?");
  if (!st) return st.error();
  st->Bind(1, token_hash);
  auto row = st->Step();
  if (!row) return row.error();
  if (!*row) return core::Error::Make(core::Errc::kNotFound, "refresh token unknown");
  return ReadToken(*st);
}

core::Result<void> RevokeFamily(Connection& conn, const std::string& family_id, int64_t now) {
  // Rows revoked earlier keep their original time.
  auto st =
      conn.Prepare("UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL");
  if (!st) return st.error();
  st->Bind(1, now).Bind(2, family_id);
  return st->Run();
}

core::Result<Rotation> Rotate(Connection& conn, const std::string& old_hash, const RefreshToken& next, int64_t now,
                              int64_t oldest_family_start) {
  // The lookup and the writes must see the same state, or two concurrent
  // rotations of one token could both succeed.
  auto tx = Transaction::BeginImmediate(conn);
  if (!tx) return tx.error();

  auto found = FindToken(conn, old_hash);
  if (!found) return found.error().code == core::Errc::kNotFound ? InvalidToken("refresh token unknown") : found.error();
  const RefreshToken& old = found->token;
  if (found->revoked) return InvalidToken("refresh token revoked, family " + old.family_id);
  // Reuse is checked before expiry: replaying a spent token means it leaked,
  // whether or not it has expired since, and the live descendant must die.
  if (found->spent) {
    if (auto r = RevokeFamily(conn, old.family_id, now); !r) return r.error();
    if (auto r = tx->Commit(); !r) return r.error();
    return core::Error::Make(core::Errc::kUnauthenticated, "refresh token reuse detected",
                             "spent refresh token presented again, family " + old.family_id + " revoked");
  }
  if (old.family_started_at < oldest_family_start)
    return InvalidToken("refresh token family " + old.family_id + " is past its absolute lifetime");
  if (old.expires_at <= now) return InvalidToken("refresh token expired");

  {
    auto st = conn.Prepare("UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ?");
    if (!st) return st.error();
    st->Bind(1, now).Bind(2, old_hash);
    if (auto r = st->Run(); !r) return r.error();
  }
  auto owner = FindUserWithId(conn, old.user_id);
  if (!owner) return owner.error().code == core::Errc::kNotFound ? InvalidToken("owner no longer exists") : owner.error();
  owner->password_hash.clear();
  // The successor always joins the old token's family and user: the caller
  // cannot move a session to another account or family, or extend its life.
  RefreshToken successor = next;
  successor.user_id = old.user_id;
  successor.family_id = old.family_id;
  successor.family_started_at = old.family_started_at;
  if (auto r = InsertToken(conn, successor); !r) return r.error();
  if (auto r = tx->Commit(); !r) return r.error();
  return Rotation{old, std::move(*owner)};
}

core::Result<void> RevokeFamilyOf(Connection& conn, const std::string& token_hash, int64_t now) {
  auto st = conn.Prepare(
      "UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND family_id = "
      "(SELECT family_id FROM refresh_tokens WHERE token_hash = ?)");
  if (!st) return st.error();
  st->Bind(1, now).Bind(2, token_hash);
  return st->Run();
}

core::Result<int64_t> Purge(Connection& conn, int64_t now, int64_t oldest_family_start, int64_t limit) {
  // Two bounded statements, each reading only rows it deletes (an index
  // apiece), so one batch holds the write lock briefly; the caller loops.
  // Families past their lifetime go whole: none of their tokens can be used.
  auto over = conn.Prepare(
      "DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens WHERE family_started_at < ? "
      "LIMIT ?)");
  if (!over) return over.error();
  over->Bind(1, oldest_family_start).Bind(2, limit);
  if (auto r = over->Run(); !r) return r.error();
  const int64_t deleted = conn.Changes();
  if (deleted >= limit) return deleted;
  // Expired rows, except spent tokens of a live family: those stay so that a
  // replay is still recognised as reuse.
  auto expired = conn.Prepare(
      "DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens WHERE expires_at <= ? AND "
      "(spent_at IS NULL OR revoked_at IS NOT NULL) LIMIT ?)");
  if (!expired) return expired.error();
  expired->Bind(1, now).Bind(2, limit - deleted);
  if (auto r = expired->Run(); !r) return r.error();
  return deleted + conn.Changes();
}

}  // namespace

// UserStore
//
// These are not coroutines: each returns the pool's awaitable directly, which
// saves a coroutine frame per call and sidesteps a GCC 12 miscompilation where
// a prvalue lambda with non-trivial captures (strings) written inside a
// co_await expression is relocated bitwise and later freed at a bad address.

Async<User> SqliteUserStore::CreateUser(User user) {
  return pool_.Run([this, user = std::move(user)] {
    return db_.WithConnection([&](Connection& conn) { return InsertUser(conn, user); });
  });
}

Async<User> SqliteUserStore::FindUserByEmail(std::string email) {
  return pool_.Run([this, email = std::move(email)] {
    return db_.WithConnection([&](Connection& conn) {
      return FindUser(conn, "SELECT " SHOPD_USER_COLUMNS " FROM users WHERE email = ?", email);
    });
  });
}

Async<User> SqliteUserStore::FindUserById(std::string id) {
  return pool_.Run([this, id = std::move(id)] {
    return db_.WithConnection([&](Connection& conn) { return FindUserWithId(conn, id); });
  });
}

Async<User> SqliteUserStore::CreateUserIfAbsent(User user) {
  return pool_.Run([this, user = std::move(user)] {
    return db_.WithConnection([&](Connection& conn) { return InsertUserIfAbsent(conn, user); });
  });
}

Async<User> SqliteUserStore::RevokeSessions(SessionRevocation revocation, int64_t now) {
  return pool_.Run([this, revocation = std::move(revocation), now] {
    return db_.WithConnection([&](Connection& conn) { return RevokeSessionsOf(conn, revocation, now); });
  });
}

Async<void> SqliteUserStore::InsertRefreshToken(RefreshToken token, int64_t token_version) {
  return pool_.Run([this, token = std::move(token), token_version] {
    return db_.WithConnection([&](Connection& conn) { return InsertFirstToken(conn, token, token_version); });
  });
}

Async<StoredRefreshToken> SqliteUserStore::FindRefreshToken(std::string token_hash) {
  return pool_.Run([this, token_hash = std::move(token_hash)] {
    return db_.WithConnection([&](Connection& conn) { return FindToken(conn, token_hash); });
  });
}

Async<Rotation> SqliteUserStore::RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now,
                                                    int64_t oldest_family_start) {
  return pool_.Run([this, old_hash = std::move(old_hash), next = std::move(next), now, oldest_family_start] {
    return db_.WithConnection(
        [&](Connection& conn) { return Rotate(conn, old_hash, next, now, oldest_family_start); });
  });
}

Async<void> SqliteUserStore::RevokeRefreshFamily(std::string token_hash, int64_t now) {
  return pool_.Run([this, token_hash = std::move(token_hash), now] {
    return db_.WithConnection([&](Connection& conn) { return RevokeFamilyOf(conn, token_hash, now); });
  });
}

Async<int64_t> SqliteUserStore::PurgeRefreshTokens(int64_t now, int64_t oldest_family_start, int64_t limit) {
  return pool_.Run([this, now, oldest_family_start, limit] {
    return db_.WithConnection([&](Connection& conn) { return Purge(conn, now, oldest_family_start, limit); });
  });
}

Async<void> SqliteUserStore::Ping() {
  return pool_.Run([this] { return db_.Ping(); });
}

}  // namespace shopd::storage::sqlite

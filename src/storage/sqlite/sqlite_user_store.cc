#include "storage/sqlite/sqlite_user_store.h"

#include <utility>

namespace shopd::storage::sqlite {
namespace {

// Every user query selects: id, email, name, role, password_hash, created_at.
User ReadUser(const Statement& st) {
  User u;
  u.id = st.ColumnText(0);
  u.email = st.ColumnText(1);
  u.name = st.ColumnText(2);
  u.role = st.ColumnText(3);
  u.password_hash = st.ColumnText(4);
  u.created_at = st.ColumnInt64(5);
  return u;
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
  return user;
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

core::Result<User> UpsertAdmin(Connection& conn, const User& admin) {
  // One statement, so concurrent bootstraps (several processes starting at
  // once) cannot race between a lookup and an insert.
  auto st = conn.Prepare(
      "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, 'admin', ?, ?) "
      "ON CONFLICT (email) DO UPDATE SET role = 'admin', password_hash = excluded.password_hash "
      "RETURNING id, email, name, role, password_hash, created_at");
  if (!st) return st.error();
  st->Bind(1, admin.id).Bind(2, admin.email).Bind(3, admin.name);
  st->Bind(4, admin.password_hash).Bind(5, admin.created_at);
  auto row = st->Step();
  if (!row) return row.error();
  if (!*row) return core::Error::Make(core::Errc::kInternal, "internal error", "upsert returned no row");
  User stored = ReadUser(*st);
  if (auto r = st->Run(); !r) return r.error();
  return stored;
}

core::Result<void> InsertToken(Connection& conn, const RefreshToken& t) {
  auto st = conn.Prepare(
      "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at) "
      "VALUES (?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->Bind(1, t.token_hash).Bind(2, t.user_id).Bind(3, t.family_id);
  st->Bind(4, t.issued_at).Bind(5, t.expires_at);
  return st->Run();
}

core::Result<void> RevokeFamily(Connection& conn, const std::string& family_id, int64_t now) {
  // Rows revoked earlier keep their original time.
  auto st =
      conn.Prepare("UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL");
  if (!st) return st.error();
  st->Bind(1, now).Bind(2, family_id);
  return st->Run();
}

core::Result<RefreshToken> Rotate(Connection& conn, const std::string& old_hash, const RefreshToken& next,
                                  int64_t now) {
  // The lookup and the writes must see the same state, or two concurrent
  // rotations of one token could both succeed.
  auto tx = Transaction::BeginImmediate(conn);
  if (!tx) return tx.error();

  RefreshToken old;
  bool spent = false;
  bool revoked = false;
  {
    auto st = conn.Prepare(
        "SELECT user_id, family_id, issued_at, expires_at, spent_at IS NOT NULL, revoked_at IS NOT NULL "
        "FROM refresh_tokens WHERE token_hash = ?");
    if (!st) return st.error();
    st->Bind(1, old_hash);
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return InvalidToken("refresh token unknown");
    old.token_hash = old_hash;
    old.user_id = st->ColumnText(0);
    old.family_id = st->ColumnText(1);
    old.issued_at = st->ColumnInt64(2);
    old.expires_at = st->ColumnInt64(3);
    spent = st->ColumnInt64(4) != 0;
    revoked = st->ColumnInt64(5) != 0;
  }

  if (revoked) return InvalidToken("refresh token revoked, family " + old.family_id);
  // Reuse is checked before expiry: replaying a spent token means it leaked,
  // whether or not it has expired since, and the live descendant must die.
  if (spent) {
    if (auto r = RevokeFamily(conn, old.family_id, now); !r) return r.error();
    if (auto r = tx->Commit(); !r) return r.error();
    return core::Error::Make(core::Errc::kUnauthenticated, "refresh token reuse detected",
                             "spent refresh token presented again, family " + old.family_id + " revoked");
  }
  if (old.expires_at <= now) return InvalidToken("refresh token expired");

  {
    auto st = conn.Prepare("UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ?");
    if (!st) return st.error();
    st->Bind(1, now).Bind(2, old_hash);
    if (auto r = st->Run(); !r) return r.error();
  }
  // The successor always joins the old token's family and user: the caller
  // cannot move a session to another account or family.
  RefreshToken successor = next;
  successor.user_id = old.user_id;
  successor.family_id = old.family_id;
  if (auto r = InsertToken(conn, successor); !r) return r.error();
  if (auto r = tx->Commit(); !r) return r.error();
  return old;
}

core::Result<void> RevokeFamilyOf(Connection& conn, const std::string& token_hash, int64_t now) {
  auto st = conn.Prepare(
      "UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND family_id = "
      "(SELECT family_id FROM refresh_tokens WHERE token_hash = ?)");
  if (!st) return st.error();
  st->Bind(1, now).Bind(2, token_hash);
  return st->Run();
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
      return FindUser(
          conn, "SELECT id, email, name, role, password_hash, created_at FROM users WHERE email = ?", email);
    });
  });
}

Async<User> SqliteUserStore::FindUserById(std::string id) {
  return pool_.Run([this, id = std::move(id)] {
    return db_.WithConnection([&](Connection& conn) {
      return FindUser(conn, "SELECT id, email, name, role, password_hash, created_at FROM users WHERE id = ?",
                      id);
    });
  });
}

Async<User> SqliteUserStore::EnsureAdmin(User admin) {
  return pool_.Run([this, admin = std::move(admin)] {
    return db_.WithConnection([&](Connection& conn) { return UpsertAdmin(conn, admin); });
  });
}

Async<void> SqliteUserStore::InsertRefreshToken(RefreshToken token) {
  return pool_.Run([this, token = std::move(token)] {
    return db_.WithConnection([&](Connection& conn) { return InsertToken(conn, token); });
  });
}

Async<RefreshToken> SqliteUserStore::RotateRefreshToken(std::string old_hash, RefreshToken next,
                                                        int64_t now) {
  return pool_.Run([this, old_hash = std::move(old_hash), next = std::move(next), now] {
    return db_.WithConnection([&](Connection& conn) { return Rotate(conn, old_hash, next, now); });
  });
}

Async<void> SqliteUserStore::RevokeRefreshFamily(std::string token_hash, int64_t now) {
  return pool_.Run([this, token_hash = std::move(token_hash), now] {
    return db_.WithConnection([&](Connection& conn) { return RevokeFamilyOf(conn, token_hash, now); });
  });
}

Async<void> SqliteUserStore::Ping() {
  return pool_.Run([this] { return db_.Ping(); });
}

}  // namespace shopd::storage::sqlite

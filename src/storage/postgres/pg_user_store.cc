#include "storage/postgres/pg_user_store.h"

#include <string>
#include <utility>
#include <vector>

namespace shopd::storage::postgres {
namespace {

constexpr const char* kUserColumns = "id, email, name, role, password_hash, created_at";

User ReadUser(const PgResult& r, int row) {
  User u;
  u.id = r.Text(row, 0);
  u.email = r.Text(row, 1);
  u.name = r.Text(row, 2);
  u.role = r.Text(row, 3);
  u.password_hash = r.Text(row, 4);
  u.created_at = r.Int64(row, 5);
  return u;
}

core::Error InvalidToken(std::string reason) {
  return core::Error::Make(core::Errc::kUnauthenticated, "invalid refresh token", std::move(reason));
}

boost::asio::awaitable<core::Result<User>> FindUser(PgPool& pool, std::string where, std::string key) {
  std::vector<PgParam> params{std::move(key)};
  auto r = co_await pool.Query(std::string("SELECT ") + kUserColumns + " FROM users WHERE " + where, std::move(params));
  if (!r) co_return r.error();
  if (r->rows() == 0) co_return core::Error::Make(core::Errc::kNotFound, "user not found");
  co_return ReadUser(*r, 0);
}

// The rotation on one connection, inside BEGIN ... COMMIT. An early return
// leaves the transaction open; the pool then drops the connection (see
// PgConnection::healthy), so nothing half-done is ever committed.
boost::asio::awaitable<core::Result<RefreshToken>> Rotate(PgConnection& conn, std::chrono::milliseconds timeout,
                                                          std::string old_hash, RefreshToken next, int64_t now) {
  if (auto r = co_await Run(conn, timeout, "BEGIN"); !r) co_return r.error();
  // (Parameter lists are named locals throughout: GCC 12 cannot place a
  // braced list's array in a coroutine frame.)
  std::vector<PgParam> by_hash{old_hash};
  auto found = co_await Run(conn, timeout,
                            "SELECT user_id, family_id, issued_at, expires_at, spent_at IS NOT NULL, "
                            "revoked_at IS NOT NULL FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
                            std::move(by_hash));
  if (!found) co_return found.error();
  if (found->rows() == 0) {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return InvalidToken("refresh token unknown");
  }
  RefreshToken old;
  old.token_hash = old_hash;
  old.user_id = found->Text(0, 0);
  old.family_id = found->Text(0, 1);
  old.issued_at = found->Int64(0, 2);
  old.expires_at = found->Int64(0, 3);
  const bool spent = found->Bool(0, 4);
  const bool revoked = found->Bool(0, 5);
  if (revoked) {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return InvalidToken("refresh token revoked, family " + old.family_id);
  }
  // Reuse is checked before expiry: a replayed spent token leaked, whether or
  // not it has expired since, and its live descendant must die.
  if (spent) {
    std::vector<PgParam> family{std::to_string(now), old.family_id};
    if (auto r = co_await Run(conn, timeout,
                              "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
                              std::move(family));
        !r)
      co_return r.error();
    if (auto r = co_await Run(conn, timeout, "COMMIT"); !r) co_return r.error();
    co_return core::Error::Make(core::Errc::kUnauthenticated, "refresh token reuse detected",
                                "spent refresh token presented again, family " + old.family_id + " revoked");
  }
  if (old.expires_at <= now) {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return InvalidToken("refresh token expired");
  }
  std::vector<PgParam> spend{std::to_string(now), old_hash};
  if (auto r = co_await Run(conn, timeout, "UPDATE refresh_tokens SET spent_at = $1 WHERE token_hash = $2",
                            std::move(spend));
      !r)
    co_return r.error();
  // The successor joins the old token's family and user, whatever the caller passed.
  std::vector<PgParam> successor{next.token_hash, old.user_id, old.family_id, std::to_string(next.issued_at),
                                 std::to_string(next.expires_at)};
  if (auto r = co_await Run(conn, timeout,
                            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at) "
                            "VALUES ($1, $2, $3, $4, $5)",
                            std::move(successor));
      !r)
    co_return r.error();
  if (auto r = co_await Run(conn, timeout, "COMMIT"); !r) co_return r.error();
  co_return old;
}

}  // namespace

Async<User> PgUserStore::CreateUser(User user) {
  std::vector<PgParam> params{user.id, user.email, user.name, user.role, user.password_hash,
                              std::to_string(user.created_at)};
  auto r = co_await pool_.Query(
      "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
      std::move(params));
  if (!r) {
    core::Error e = r.error();
    if (e.code == core::Errc::kConflict) e.message = "email is already registered";
    co_return e;
  }
  co_return user;
}

Async<User> PgUserStore::FindUserByEmail(std::string email) {
  co_return co_await FindUser(pool_, "email = $1", std::move(email));
}

Async<User> PgUserStore::FindUserById(std::string id) {
  co_return co_await FindUser(pool_, "id = $1", std::move(id));
}

Async<User> PgUserStore::EnsureAdmin(User admin) {
  // One statement, so concurrent bootstraps cannot race between a lookup and an insert.
  std::vector<PgParam> params{admin.id, admin.email, admin.name, admin.password_hash,
                              std::to_string(admin.created_at)};
  auto r = co_await pool_.Query(
      std::string("INSERT INTO users (id, email, name, role, password_hash, created_at) "
                  "VALUES ($1, $2, $3, 'admin', $4, $5) "
                  "ON CONFLICT (email) DO UPDATE SET role = 'admin', password_hash = EXCLUDED.password_hash "
                  "RETURNING ") + kUserColumns,
      std::move(params));
  if (!r) co_return r.error();
  if (r->rows() != 1) co_return core::Error::Make(core::Errc::kInternal, "internal error", "upsert returned no row");
  co_return ReadUser(*r, 0);
}

Async<void> PgUserStore::InsertRefreshToken(RefreshToken token) {
  std::vector<PgParam> params{token.token_hash, token.user_id, token.family_id, std::to_string(token.issued_at),
                              std::to_string(token.expires_at)};
  auto r = co_await pool_.Query(
      "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
      std::move(params));
  if (!r) co_return r.error();
  co_return core::Result<void>{};
}

Async<RefreshToken> PgUserStore::RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now) {
  const auto timeout = pool_.options().query_timeout;
  std::function<boost::asio::awaitable<core::Result<RefreshToken>>(PgConnection&)> rotate =
      [&](PgConnection& conn) { return Rotate(conn, timeout, old_hash, next, now); };
  co_return co_await pool_.With<RefreshToken>(rotate);
}

Async<void> PgUserStore::RevokeRefreshFamily(std::string token_hash, int64_t now) {
  std::vector<PgParam> params{std::to_string(now), std::move(token_hash)};
  auto r = co_await pool_.Query(
      "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family_id = "
      "(SELECT family_id FROM refresh_tokens WHERE token_hash = $2)",
      std::move(params));
  if (!r) co_return r.error();
  co_return core::Result<void>{};
}

Async<void> PgUserStore::Ping() {
  auto r = co_await pool_.Query("SELECT 1", std::vector<PgParam>{});
  if (!r) co_return r.error();
  co_return core::Result<void>{};
}

}  // namespace shopd::storage::postgres

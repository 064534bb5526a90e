#include "storage/postgres/pg_user_store.h"

#include <string>
#include <utility>
#include <vector>

namespace shopd::storage::postgres {
namespace {

// Every user query selects these, in this order (ReadUser).
#define SHOPD_USER_COLUMNS "id, email, name, role, password_hash, created_at, token_version"
// Every refresh-token query selects these, in this order (ReadToken).
#define SHOPD_TOKEN_COLUMNS \
  "token_hash, user_id, family_id, issued_at, expires_at, family_started_at, spent_at IS NOT NULL, revoked_at IS NOT NULL"

User ReadUser(const PgResult& r, int row) {
  User u;
  u.id = r.Text(row, 0);
  u.email = r.Text(row, 1);
  u.name = r.Text(row, 2);
  u.role = r.Text(row, 3);
  u.password_hash = r.Text(row, 4);
  u.created_at = r.Int64(row, 5);
  u.token_version = r.Int64(row, 6);
  return u;
}

StoredRefreshToken ReadToken(const PgResult& r, int row) {
  StoredRefreshToken s;
  s.token.token_hash = r.Text(row, 0);
  s.token.user_id = r.Text(row, 1);
  s.token.family_id = r.Text(row, 2);
  s.token.issued_at = r.Int64(row, 3);
  s.token.expires_at = r.Int64(row, 4);
  s.token.family_started_at = r.Int64(row, 5);
  s.spent = r.Bool(row, 6);
  s.revoked = r.Bool(row, 7);
  return s;
}

core::Error InvalidToken(std::string reason) {
  return core::Error::Make(core::Errc::kUnauthenticated, "invalid refresh token", std::move(reason));
}

boost::asio::awaitable<core::Result<User>> FindUser(PgPool& pool, std::string where, std::string key) {
  std::vector<PgParam> params{std::move(key)};
  auto r = co_await pool.Query("SELECT " SHOPD_USER_COLUMNS " FROM users WHERE " + where, std::move(params));
  if (!r) co_return r.error();
  if (r->rows() == 0) co_return core::Error::Make(core::Errc::kNotFound, "user not found");
  co_return ReadUser(*r, 0);
}

// Transactions below run on one connection, inside BEGIN ... COMMIT. An early
// return leaves the transaction open; the pool then drops the connection (see
// PgConnection::healthy), so nothing half-done is ever committed.

boost::asio::awaitable<core::Result<Rotation>> Rotate(PgConnection& conn, std::chrono::milliseconds timeout,
                                                      std::string old_hash, RefreshToken next, int64_t now,
                                                      int64_t oldest_family_start) {
  if (auto r = co_await Run(conn, timeout, "BEGIN"); !r) co_return r.error();
  // (Parameter lists are named locals throughout: GCC 12 cannot place a
  // braced list's array in a coroutine frame.)
  std::vector<PgParam> by_hash{old_hash};
  auto found = co_await Run(conn, timeout,
                            "SELECT " SHOPD_TOKEN_COLUMNS " FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
                            std::move(by_hash));
  if (!found) co_return found.error();
  if (found->rows() == 0) {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return InvalidToken("refresh token unknown");
  }
  const StoredRefreshToken stored = ReadToken(*found, 0);
  const RefreshToken& old = stored.token;
  if (stored.revoked) {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return InvalidToken("refresh token revoked, family " + old.family_id);
  }
  // Reuse is checked before expiry: a replayed spent token leaked, whether or
  // not it has expired since, and its live descendant must die.
  if (stored.spent) {
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
  if (old.family_started_at < oldest_family_start || old.expires_at <= now) {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return InvalidToken(old.expires_at <= now ? "refresh token expired"
                                                 : "refresh token family " + old.family_id +
                                                       " is past its absolute lifetime");
  }
  std::vector<PgParam> spend{std::to_string(now), old_hash};
  if (auto r = co_await Run(conn, timeout, "UPDATE refresh_tokens SET spent_at = $1 WHERE token_hash = $2",
                            std::move(spend));
      !r)
    co_return r.error();
  // The owner as of this transaction: a revocation committed after it also
  // revokes the successor, so the version read here can never outlive one.
  std::vector<PgParam> owner_id{old.user_id};
  auto owner = co_await Run(conn, timeout, "SELECT " SHOPD_USER_COLUMNS " FROM users WHERE id = $1",
                            std::move(owner_id));
  if (!owner) co_return owner.error();
  if (owner->rows() == 0) {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return InvalidToken("owner no longer exists");
  }
  Rotation rotation{old, ReadUser(*owner, 0)};
  rotation.user.password_hash.clear();
  // The successor joins the old token's family and user, whatever the caller passed.
  std::vector<PgParam> successor{next.token_hash,
                                 old.user_id,
                                 old.family_id,
                                 std::to_string(next.issued_at),
                                 std::to_string(next.expires_at),
                                 std::to_string(old.family_started_at)};
  if (auto r = co_await Run(conn, timeout,
                            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at, "
                            "family_started_at) VALUES ($1, $2, $3, $4, $5, $6)",
                            std::move(successor));
      !r)
    co_return r.error();
  if (auto r = co_await Run(conn, timeout, "COMMIT"); !r) co_return r.error();
  co_return rotation;
}

boost::asio::awaitable<core::Result<User>> RevokeSessionsOn(PgConnection& conn, std::chrono::milliseconds timeout,
                                                            SessionRevocation rev, int64_t now) {
  if (auto r = co_await Run(conn, timeout, "BEGIN"); !r) co_return r.error();
  // COALESCE keeps what is not being changed.
  std::vector<PgParam> change{rev.new_role, rev.new_password_hash, rev.user_id};
  auto updated = co_await Run(conn, timeout,
                              "UPDATE users SET role = COALESCE($1, role), password_hash = COALESCE($2, password_hash), "
                              "token_version = token_version + 1 WHERE id = $3 RETURNING " SHOPD_USER_COLUMNS,
                              std::move(change));
  if (!updated) co_return updated.error();
  if (updated->rows() == 0) {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return core::Error::Make(core::Errc::kNotFound, "user not found");
  }
  User user = ReadUser(*updated, 0);
  std::vector<PgParam> revoke{std::to_string(now), rev.user_id};
  if (auto r = co_await Run(conn, timeout,
                            "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                            std::move(revoke));
      !r)
    co_return r.error();
  if (auto r = co_await Run(conn, timeout, "COMMIT"); !r) co_return r.error();
  co_return user;
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
  user.token_version = 0;
  co_return user;
}

Async<User> PgUserStore::FindUserByEmail(std::string email) {
  co_return co_await FindUser(pool_, "email = $1", std::move(email));
}

Async<User> PgUserStore::FindUserById(std::string id) {
  co_return co_await FindUser(pool_, "id = $1", std::move(id));
}

Async<User> PgUserStore::CreateUserIfAbsent(User user) {
  // One statement; the no-op update makes RETURNING yield an existing row.
  std::vector<PgParam> params{user.id, user.email, user.name, user.role, user.password_hash,
                              std::to_string(user.created_at)};
  auto r = co_await pool_.Query(
      "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) "
      "ON CONFLICT (email) DO UPDATE SET email = users.email RETURNING " SHOPD_USER_COLUMNS,
      std::move(params));
  if (!r) co_return r.error();
  if (r->rows() != 1) co_return core::Error::Make(core::Errc::kInternal, "internal error", "upsert returned no row");
  co_return ReadUser(*r, 0);
}

Async<User> PgUserStore::RevokeSessions(SessionRevocation revocation, int64_t now) {
  const auto timeout = pool_.options().query_timeout;
  std::function<boost::asio::awaitable<core::Result<User>>(PgConnection&)> revoke =
      [&](PgConnection& conn) { return RevokeSessionsOn(conn, timeout, revocation, now); };
  co_return co_await pool_.With<User>(revoke);
}

Async<void> PgUserStore::InsertRefreshToken(RefreshToken token, int64_t token_version) {
  // One statement: the version check and the insert cannot be split by a revocation.
  std::vector<PgParam> params{token.token_hash,
                              token.user_id,
                              token.family_id,
                              std::to_string(token.issued_at),
                              std::to_string(token.expires_at),
                              std::to_string(token.family_started_at),
                              std::to_string(token_version)};
  auto r = co_await pool_.Query(
      "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at, family_started_at) "
      "SELECT $1, $2, $3, $4::BIGINT, $5::BIGINT, $6::BIGINT "
      "WHERE EXISTS (SELECT 1 FROM users WHERE id = $2 AND token_version = $7::BIGINT)",
      std::move(params));
  if (!r) co_return r.error();
  if (r->Affected() == 0)
    co_return core::Error::Make(core::Errc::kConflict, "sessions were revoked",
                                "user " + token.user_id + " is no longer at token version " +
                                    std::to_string(token_version));
  co_return core::Result<void>{};
}

Async<StoredRefreshToken> PgUserStore::FindRefreshToken(std::string token_hash) {
  std::vector<PgParam> params{std::move(token_hash)};
  auto r = co_await pool_.Query("SELECT " SHOPD_TOKEN_COLUMNS " FROM refresh_tokens WHERE token_hash = $1",
                                std::move(params));
  if (!r) co_return r.error();
  if (r->rows() == 0) co_return core::Error::Make(core::Errc::kNotFound, "refresh token unknown");
  co_return ReadToken(*r, 0);
}

Async<Rotation> PgUserStore::RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now,
                                                int64_t oldest_family_start) {
  const auto timeout = pool_.options().query_timeout;
  std::function<boost::asio::awaitable<core::Result<Rotation>>(PgConnection&)> rotate =
      [&](PgConnection& conn) { return Rotate(conn, timeout, old_hash, next, now, oldest_family_start); };
  co_return co_await pool_.With<Rotation>(rotate);
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

Async<int64_t> PgUserStore::PurgeRefreshTokens(int64_t now, int64_t oldest_family_start, int64_t limit) {
  // Two bounded statements, each reading only rows it deletes (an index
  // apiece). Families past their lifetime go whole; expired rows go except
  // spent tokens of a live family (kept so that a replay is still recognised
  // as reuse). SKIP LOCKED leaves rows a rotation holds to the next round.
  std::vector<PgParam> over_params{std::to_string(oldest_family_start), std::to_string(limit)};
  auto over = co_await pool_.Query(
      "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE "
      "family_started_at < $1::BIGINT LIMIT $2::BIGINT FOR UPDATE SKIP LOCKED)",
      std::move(over_params));
  if (!over) co_return over.error();
  const int64_t deleted = over->Affected();
  if (deleted >= limit) co_return deleted;
  std::vector<PgParam> expired_params{std::to_string(now), std::to_string(limit - deleted)};
  auto expired = co_await pool_.Query(
      "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE "
      "expires_at <= $1::BIGINT AND (spent_at IS NULL OR revoked_at IS NOT NULL) LIMIT $2::BIGINT "
      "FOR UPDATE SKIP LOCKED)",
      std::move(expired_params));
  if (!expired) co_return expired.error();
  co_return deleted + expired->Affected();
}

Async<void> PgUserStore::Ping() {
  auto r = co_await pool_.Query("SELECT 1", std::vector<PgParam>{});
  if (!r) co_return r.error();
  co_return core::Result<void>{};
}

}  // namespace shopd::storage::postgres

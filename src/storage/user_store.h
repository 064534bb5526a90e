// storage: the users and refresh-token store interface. Depends on core.
//
// Services talk to this interface only; configuration picks the backend
// (embedded: storage/sqlite/, scale-out: storage/postgres/). Every call is a
// coroutine so a backend can be truly asynchronous (libpq in the event loop) or
// run blocking work on a bounded pool (SQLite); callers never block.
//
//   core::Result<User> u = co_await store.FindUserByEmail("a@example.com");
//   if (!u && u.error().code == core::Errc::kNotFound) ...
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"

namespace shopd::storage {

template <class T>
using Async = boost::asio::awaitable<core::Result<T>>;

struct User {
  std::string id;             // UUID
  std::string email;          // normalised (trimmed, lower-case)
  std::string name;
  std::string role;           // "user" | "admin"
  std::string password_hash;  // PHC string; never leaves the service layer
  int64_t created_at = 0;     // unix seconds
  // Raised whenever the user's sessions are revoked (logout everywhere, a role
  // or password change); access tokens signed for a lower version are dead.
  int64_t token_version = 0;
};

struct RefreshToken {
  std::string token_hash;  // SHA-256 of the opaque token, hex; the token itself is never stored
  std::string user_id;
  std::string family_id;   // all rotations of one login share a family
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  // When the family's login happened; its absolute lifetime counts from here.
  // A rotation's successor inherits it whatever the caller passes.
  int64_t family_started_at = 0;
};

// A refresh token as stored, for the read that precedes any rotation.
struct StoredRefreshToken {
  RefreshToken token;
  bool spent = false;
  bool revoked = false;
};

// What a successful rotation spent, and its owner as of the rotation (the
// role and token version to sign the new access token with; no password hash).
struct Rotation {
  RefreshToken spent;
  User user;
};

// Revokes every session of one user; optionally changes the credentials that
// sessions were granted on. A role or password change can only be made this
// way, so no change of either ever leaves an old session alive.
struct SessionRevocation {
  std::string user_id;
  std::optional<std::string> new_role;
  std::optional<std::string> new_password_hash;
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // kConflict when the email is taken.
  virtual Async<User> CreateUser(User user) = 0;
  // kNotFound when absent.
  virtual Async<User> FindUserByEmail(std::string email) = 0;
  virtual Async<User> FindUserById(std::string id) = 0;
  // Creates `user` unless its email is taken; returns the stored account
  // either way, an existing one untouched (whatever its role). One statement,
  // so concurrent bootstraps cannot race between a lookup and an insert.
  virtual Async<User> CreateUserIfAbsent(User user) = 0;
  // In one transaction: applies the optional changes, raises token_version
  // and revokes every refresh token of the user. Returns the updated user;
  // kNotFound when absent.
  virtual Async<User> RevokeSessions(SessionRevocation revocation, int64_t now) = 0;

  // Stores a login's first token, unless the user's token version is no
  // longer `token_version` (its sessions were revoked since the login read
  // it): then kConflict and nothing is stored.
  virtual Async<void> InsertRefreshToken(RefreshToken token, int64_t token_version) = 0;
  // A plain read (no write lock, no row lock). kNotFound when unknown.
  virtual Async<StoredRefreshToken> FindRefreshToken(std::string token_hash) = 0;
  // Atomically spends `old_hash` and stores `next` (same family, same user).
  // kUnauthenticated when old_hash is unknown, expired, revoked, or its family
  // started before `oldest_family_start`. When old_hash was already spent (a
  // reuse: the token was stolen or replayed) the whole family is revoked and
  // kUnauthenticated returned.
  virtual Async<Rotation> RotateRefreshToken(std::string old_hash, RefreshToken next, int64_t now,
                                             int64_t oldest_family_start) = 0;
  // Revokes the token's whole family (logout). Unknown tokens are not an error.
  virtual Async<void> RevokeRefreshFamily(std::string token_hash, int64_t now) = 0;
  // Deletes at most `limit` rows that can no longer matter: every row of a
  // family that started before `oldest_family_start`, and expired rows except
  // a spent token of a family still within its lifetime (kept so that its
  // replay is still recognised as reuse). Returns how many were deleted.
  virtual Async<int64_t> PurgeRefreshTokens(int64_t now, int64_t oldest_family_start, int64_t limit) = 0;

  // Cheap reachability check for /ready.
  virtual Async<void> Ping() = 0;
};

}  // namespace shopd::storage

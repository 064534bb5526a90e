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
};

struct RefreshToken {
  std::string token_hash;  // SHA-256 of the opaque token, hex; the token itself is never stored
  std::string user_id;
  std::string family_id;   // all rotations of one login share a family
  int64_t issued_at = 0;
  int64_t expires_at = 0;
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // kConflict when the email is taken.
  virtual Async<User> CreateUser(User user) = 0;
  // kNotFound when absent.
  virtual Async<User> FindUserByEmail(std::string email) = 0;
  virtual Async<User> FindUserById(std::string id) = 0;
  // Creates the account with role admin, or makes an existing one admin and
  // resets its password hash. Used for the bootstrap admin.
  virtual Async<User> EnsureAdmin(User admin) = 0;

  virtual Async<void> InsertRefreshToken(RefreshToken token) = 0;
  // Atomically spends `old_hash` and stores `next` (same family, same user).
  // kUnauthenticated when old_hash is unknown, expired or revoked. When
  // old_hash was already spent (a reuse: the token was stolen or replayed) the
  // whole family is revoked and kUnauthenticated returned.
  // On success returns the spent token's record (who it belonged to).
  virtual Async<RefreshToken> RotateRefreshToken(std::string old_hash, RefreshToken next,
                                                 int64_t now) = 0;
  // Revokes the token's whole family (logout). Unknown tokens are not an error.
  virtual Async<void> RevokeRefreshFamily(std::string token_hash, int64_t now) = 0;

  // Cheap reachability check for /ready.
  virtual Async<void> Ping() = 0;
};

}  // namespace shopd::storage

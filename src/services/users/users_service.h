// services/users: accounts, login, token rotation — the domain logic, free of
// HTTP. Depends on core, auth, storage, ratelimit, exec, obs.
//
// A plain coroutine class over interfaces (UserStore, RateLimiter), so it is
// tested without sockets and shared by the HTTP routes and, later, gRPC.
//
// Every request is first held to fixed input bounds (validation.h), then to
// its rate limits, and only then costs a password hash or a database call.
// Password hashing runs on its own bounded pool (`hash_pool`): a full pool
// answers 503 at once instead of queueing logins behind each other.
//
//   auto user = co_await users.Register({email, password, name}, client_ip);
//   auto tokens = co_await users.Login(email, password, client_ip);
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

#include "auth/jwt.h"
#include "auth/password_hasher.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/principal.h"
#include "exec/worker_pool.h"
#include "obs/metrics.h"
#include "ratelimit/rate_limiter.h"
#include "services/users/user_cache.h"
#include "services/users/users_config.h"
#include "storage/user_store.h"

namespace shopd::services {

template <class T>
using Async = boost::asio::awaitable<core::Result<T>>;

struct RegisterInput {
  std::string email;
  std::string password;
  std::string name;
};

struct TokenPair {
  std::string access_token;
  std::string refresh_token;
  int64_t expires_in = 0;
};

// A refresh token is core::SecureToken(kRefreshTokenBytes): this many base64url characters.
inline constexpr size_t kRefreshTokenBytes = 32;
inline constexpr size_t kRefreshTokenChars = (kRefreshTokenBytes * 4 + 2) / 3;

class UsersService {
 public:
  // `metrics` may be null (tests); the counters are then kept privately.
  UsersService(const UsersConfig& config, storage::UserStore& store, ratelimit::RateLimiter& limiter,
               exec::WorkerPool& hash_pool, const auth::JwtCodec& jwt, const core::Clock& clock,
               obs::MetricsRegistry* metrics = nullptr);

  Async<storage::User> Register(RegisterInput input, std::string client_ip);
  Async<TokenPair> Login(std::string email, std::string password, std::string client_ip);
  // Rotates the refresh token. An unknown, revoked, expired or too-old one is
  // refused (401) from a read alone: only a live token reaches a write.
  Async<TokenPair> Refresh(std::string refresh_token, std::string client_ip);
  // Ends the token's session. With `everywhere`, ends every session of its
  // user and retires their access tokens (the token must then be live, since
  // it names the user).
  Async<void> Logout(std::string refresh_token, bool everywhere, std::string client_ip);

  // For the authenticator: is an access token of `token_version` still live
  // for the user? nullopt when the cache cannot tell (not cached, or cached
  // at an older version than the token's); then ask CheckSession.
  std::optional<core::Result<void>> CheckSessionCached(const std::string& user_id, int64_t token_version);
  Async<void> CheckSession(std::string user_id, int64_t token_version);

  // Deletes refresh-token rows that can no longer matter, `batch` rows per
  // statement and at most `max_batches` statements. Returns how many.
  Async<int64_t> PurgeRefreshTokens(int64_t batch, int max_batches);
  // The caller's own record; kUnauthenticated when the account no longer exists.
  Async<storage::User> GetMe(const core::Principal& caller);
  // Self or admin; everyone else gets kNotFound (no hint that the id exists).
  Async<storage::User> GetUser(const core::Principal& caller, std::string id);

  // At start-up: creates the bootstrap admin, or checks the existing one
  // (resetting its password, which revokes its sessions, when it differs).
  // Never promotes: an existing non-admin account with this email is kConflict.
  Async<storage::User> EnsureAdmin(std::string email, std::string password);

  // Password verifications run so far (each costs one argon2 hash).
  uint64_t password_verifications() const { return verifications_->Value(); }
  // Logins delayed because their account was over its failure ceiling.
  uint64_t logins_slowed() const { return slowed_->Value(); }

 private:
  struct LoginBudget;
  Async<TokenPair> IssueTokens(const storage::User& user, std::string family_id);
  std::string SignAccess(const storage::User& user, int64_t now) const;
  Async<storage::StoredRefreshToken> FindLiveRefreshToken(const std::string& token_hash, int64_t now);
  Async<bool> HitTokenLimit(const std::string& client_ip);
  Async<storage::User> FindCached(const std::string& id);
  Async<bool> ReserveLogin(LoginBudget& budget);
  boost::asio::awaitable<void> RefundLogin(const LoginBudget& budget);
  int64_t WindowMs() const { return config_.rate_window_s * 1000; }

  UsersConfig config_;
  storage::UserStore& store_;
  ratelimit::RateLimiter& limiter_;
  exec::WorkerPool& hash_pool_;
  const auth::JwtCodec& jwt_;
  const core::Clock& clock_;
  auth::PasswordHasher hasher_;
  UserCache cache_;
  obs::Counter own_verifications_;
  obs::Counter own_slowed_;
  obs::Counter* verifications_;
  obs::Counter* slowed_;
};

}  // namespace shopd::services

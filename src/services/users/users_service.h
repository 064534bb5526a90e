// services/users: accounts, login, token rotation — the domain logic, free of
// HTTP. Depends on core, auth, storage, ratelimit, exec.
//
// A plain coroutine class over interfaces (UserStore, RateLimiter), so it is
// tested without sockets and shared by the HTTP routes and, later, gRPC.
//
//   auto user = co_await users.Register({email, password, name}, client_ip);
//   auto tokens = co_await users.Login(email, password, client_ip);
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>

#include "auth/jwt.h"
#include "auth/password_hasher.h"
#include "core/clock.h"
#include "core/error.h"
#include "exec/worker_pool.h"
#include "http/request.h"
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

class UsersService {
 public:
  UsersService(const UsersConfig& config, storage::UserStore& store, ratelimit::RateLimiter& limiter,
               exec::WorkerPool& cpu_pool, const auth::JwtCodec& jwt, const core::Clock& clock);

  Async<storage::User> Register(RegisterInput input, std::string client_ip);
  Async<TokenPair> Login(std::string email, std::string password, std::string client_ip);
  Async<TokenPair> Refresh(std::string refresh_token);
  Async<void> Logout(std::string refresh_token);
  // The caller's own record; kUnauthenticated when the account no longer exists.
  Async<storage::User> GetMe(const http::Principal& caller);
  // Self or admin; everyone else gets kNotFound (no hint that the id exists).
  Async<storage::User> GetUser(const http::Principal& caller, std::string id);

  // At start-up: makes sure the bootstrap admin exists with role admin.
  Async<storage::User> EnsureAdmin(std::string email, std::string password);

 private:
  Async<TokenPair> IssueTokens(const storage::User& user, std::string family_id);
  Async<storage::User> FindCached(const std::string& id);
  int64_t WindowMs() const { return config_.rate_window_s * 1000; }

  UsersConfig config_;
  storage::UserStore& store_;
  ratelimit::RateLimiter& limiter_;
  exec::WorkerPool& cpu_pool_;
  const auth::JwtCodec& jwt_;
  const core::Clock& clock_;
  auth::PasswordHasher hasher_;
  UserCache cache_;
};

}  // namespace shopd::services

#include "services/users/users_service.h"

#include "auth/token_hash.h"
#include "core/random.h"
#include "services/users/validation.h"

namespace shopd::services {

using core::Errc;
using core::Error;
using storage::User;

namespace {

Error InvalidCredentials() {
  return Error::Make(Errc::kUnauthenticated, "invalid email or password").WithType("invalid-credentials");
}

Error InvalidRefreshToken() {
  return Error::Make(Errc::kUnauthenticated, "refresh token is invalid, expired or already used")
      .WithType("invalid-refresh-token");
}

Error TooMany(const ratelimit::Decision& d, std::string_view what) {
  Error e = Error::Make(Errc::kRateLimited, "too many " + std::string(what) + ", retry later");
  e.retry_after_s = d.RetryAfterSeconds();
  return e;
}

}  // namespace

UsersService::UsersService(const UsersConfig& config, storage::UserStore& store, ratelimit::RateLimiter& limiter,
                           exec::WorkerPool& cpu_pool, const auth::JwtCodec& jwt, const core::Clock& clock)
    : config_(config),
      store_(store),
      limiter_(limiter),
      cpu_pool_(cpu_pool),
      jwt_(jwt),
      clock_(clock),
      hasher_(config.argon2),
      cache_(clock, static_cast<size_t>(config.user_cache_entries), config.user_cache_ttl_s * 1000) {}

Async<User> UsersService::Register(RegisterInput in, std::string client_ip) {
  // Counted before any expensive work: the limit protects the argon2 pool too.
  auto gate = co_await limiter_.Hit("register:ip:" + client_ip, config_.registrations_per_ip, WindowMs());
  if (!gate.allowed) co_return TooMany(gate, "registrations");

  User user;
  user.email = NormalizeEmail(in.email);
  user.name = Trim(in.name);
  std::vector<core::FieldError> errors;
  if (auto e = CheckEmail(user.email)) errors.push_back({"email", *e});
  if (auto e = CheckPassword(in.password)) errors.push_back({"password", *e});
  if (auto e = CheckName(user.name)) errors.push_back({"name", *e});
  if (!errors.empty()) co_return Error::Invalid("request body failed validation", std::move(errors));

  // Captured by reference: `in` lives in this coroutine's frame until the task
  // completes (and GCC 12 miscompiles move-captures in an inline co_await lambda).
  auto hash = co_await cpu_pool_.Run([this, &in]() -> core::Result<std::string> {
    return hasher_.Hash(in.password);
  });
  if (!hash) co_return hash.error();
  user.id = core::NewUuid();
  user.role = "user";
  user.password_hash = std::move(*hash);
  user.created_at = clock_.UnixSeconds();
  auto created = co_await store_.CreateUser(std::move(user));
  if (!created && created.error().code == Errc::kConflict)
    co_return Error::Make(Errc::kConflict, "an account with this email already exists");
  co_return created;
}

Async<TokenPair> UsersService::Login(std::string email_in, std::string password, std::string client_ip) {
  const std::string email = NormalizeEmail(email_in);
  const std::string account_key = "login:account:" + email;
  const std::string ip_key = "login:ip:" + client_ip;
  // Only failures count; a blocked account or address is refused before the
  // password is even checked, so guessing stays slow for the attacker while
  // other accounts are unaffected.
  auto by_account = co_await limiter_.Peek(account_key, config_.login_failures_per_account, WindowMs());
  if (!by_account.allowed) co_return TooMany(by_account, "failed logins for this account");
  auto by_ip = co_await limiter_.Peek(ip_key, config_.login_failures_per_ip, WindowMs());
  if (!by_ip.allowed) co_return TooMany(by_ip, "failed logins from this address");

  auto user = co_await store_.FindUserByEmail(email);
  if (!user && user.error().code != Errc::kNotFound) co_return user.error();
  // Unknown emails still pay for one argon2 verification: equal timing, no enumeration.
  const std::string& phc = user ? user->password_hash : hasher_.DummyHash();
  auto ok = co_await cpu_pool_.Run([this, &phc, &password]() -> core::Result<bool> {
    return hasher_.Verify(phc, password);
  });
  if (!ok) co_return ok.error();
  if (!user || !*ok) {
    co_await limiter_.Hit(account_key, config_.login_failures_per_account, WindowMs());
    co_await limiter_.Hit(ip_key, config_.login_failures_per_ip, WindowMs());
    co_return InvalidCredentials();
  }
  co_return co_await IssueTokens(*user, core::NewUuid());
}

Async<TokenPair> UsersService::IssueTokens(const User& user, std::string family_id) {
  const int64_t now = clock_.UnixSeconds();
  auth::AccessClaims claims{user.id, user.role, core::FastId(), now, now + config_.access_token_ttl_s};
  TokenPair pair{jwt_.Sign(claims), core::SecureToken(32), config_.access_token_ttl_s};
  storage::RefreshToken record{auth::Sha256Hex(pair.refresh_token), user.id, std::move(family_id), now,
                               now + config_.refresh_token_ttl_s};
  auto stored = co_await store_.InsertRefreshToken(std::move(record));
  if (!stored) co_return stored.error();
  co_return pair;
}

Async<TokenPair> UsersService::Refresh(std::string refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > 512) co_return InvalidRefreshToken();
  const int64_t now = clock_.UnixSeconds();
  TokenPair pair;
  pair.refresh_token = core::SecureToken(32);
  pair.expires_in = config_.access_token_ttl_s;
  storage::RefreshToken next{auth::Sha256Hex(pair.refresh_token), "", "", now, now + config_.refresh_token_ttl_s};
  auto spent = co_await store_.RotateRefreshToken(auth::Sha256Hex(refresh_token), std::move(next), now);
  if (!spent) {
    if (spent.error().code == Errc::kUnauthenticated) co_return InvalidRefreshToken();
    co_return spent.error();
  }
  auto user = co_await store_.FindUserById(spent->user_id);
  if (!user) co_return user.error().code == Errc::kNotFound ? InvalidRefreshToken() : user.error();
  pair.access_token =
      jwt_.Sign(auth::AccessClaims{user->id, user->role, core::FastId(), now, now + config_.access_token_ttl_s});
  co_return pair;
}

Async<void> UsersService::Logout(std::string refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > 512) co_return core::Result<void>{};
  co_return co_await store_.RevokeRefreshFamily(auth::Sha256Hex(refresh_token), clock_.UnixSeconds());
}

Async<User> UsersService::FindCached(const std::string& id) {
  if (auto hit = cache_.Get(id)) co_return std::move(*hit);
  auto user = co_await store_.FindUserById(id);
  if (user) {
    user->password_hash.clear();
    cache_.Put(*user);
  }
  co_return user;
}

Async<User> UsersService::GetMe(const http::Principal& caller) {
  auto user = co_await FindCached(caller.user_id);
  if (!user && user.error().code == Errc::kNotFound)
    co_return Error::Make(Errc::kUnauthenticated, "the account for this token no longer exists");
  co_return user;
}

Async<User> UsersService::GetUser(const http::Principal& caller, std::string id) {
  if (caller.user_id != id && !caller.IsAdmin()) co_return Error::Make(Errc::kNotFound, "no such user");
  auto user = co_await FindCached(id);
  if (!user && user.error().code == Errc::kNotFound) co_return Error::Make(Errc::kNotFound, "no such user");
  co_return user;
}

Async<User> UsersService::EnsureAdmin(std::string email_in, std::string password) {
  User admin;
  admin.email = NormalizeEmail(email_in);
  if (auto e = CheckEmail(admin.email)) co_return Error::Invalid("SHOPD_ADMIN_EMAIL " + *e);
  if (auto e = CheckPassword(password)) co_return Error::Invalid("SHOPD_ADMIN_PASSWORD " + *e);
  auto hash = co_await cpu_pool_.Run([this, &password]() -> core::Result<std::string> {
    return hasher_.Hash(password);
  });
  if (!hash) co_return hash.error();
  admin.id = core::NewUuid();
  admin.name = "Administrator";
  admin.role = "admin";
  admin.password_hash = std::move(*hash);
  admin.created_at = clock_.UnixSeconds();
  auto result = co_await store_.EnsureAdmin(std::move(admin));
  if (result) cache_.Invalidate(result->id);
  co_return result;
}

}  // namespace shopd::services

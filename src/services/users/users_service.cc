#include "services/users/users_service.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>

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

Error SessionRevoked() {
  return Error::Make(Errc::kUnauthenticated, "this token was revoked; log in again").WithType("token-revoked");
}

Error TooMany(const ratelimit::Decision& d, std::string_view what) {
  Error e = Error::Make(Errc::kRateLimited, "too many " + std::string(what) + ", retry later");
  e.retry_after_s = d.RetryAfterSeconds();
  return e;
}

Error Invalid(std::vector<core::FieldError> errors) {
  return Error::Invalid("request body failed validation", std::move(errors));
}

// A rate-limiter key of fixed size whatever the subject: `kind` and 128 bits
// of the subject's SHA-256. Subjects (emails, addresses) come from clients.
std::string LimitKey(std::string_view kind, std::string_view subject) {
  std::string key(kind);
  key += auth::Sha256Hex(subject).substr(0, 32);
  return key;
}

std::string PairSubject(std::string_view email, std::string_view client_ip) {
  std::string s(email);
  s += '\0';
  s += client_ip;
  return s;
}

}  // namespace

// The limiter events one login attempt reserved, to give back when the
// attempt turns out not to be a failure.
struct UsersService::LoginBudget {
  std::string pair_key;     // (account, client address)
  std::string ip_key;       // client address
  std::string account_key;  // account, all addresses (the ceiling)
  bool pair_counted = false;
  bool ip_counted = false;
  bool account_counted = false;
};

UsersService::UsersService(const UsersConfig& config, storage::UserStore& store, ratelimit::RateLimiter& limiter,
                           exec::WorkerPool& hash_pool, const auth::JwtCodec& jwt, const core::Clock& clock,
                           obs::MetricsRegistry* metrics)
    : config_(config),
      store_(store),
      limiter_(limiter),
      hash_pool_(hash_pool),
      jwt_(jwt),
      clock_(clock),
      hasher_(config.argon2),
      cache_(clock, static_cast<size_t>(config.user_cache_entries), config.user_cache_ttl_s * 1000),
      verifications_(metrics ? &metrics->GetCounter("shopd_password_verifications_total",
                                                    "Password verifications run (one argon2 hash each).")
                             : &own_verifications_),
      slowed_(metrics ? &metrics->GetCounter("shopd_login_slowed_total",
                                             "Logins delayed because their account was over its failure ceiling.")
                      : &own_slowed_) {}

Async<User> UsersService::Register(RegisterInput in, std::string client_ip) {
  // All validation first: it is cheap, and a rejected body costs nothing else.
  User user;
  std::vector<core::FieldError> errors;
  const std::string_view email = TrimView(in.email);
  if (email.size() > kMaxEmailBytes) {
    errors.push_back({"email", "must be at most 254 characters"});
  } else {
    user.email = NormalizeEmail(email);
    if (auto e = CheckEmail(user.email)) errors.push_back({"email", *e});
  }
  if (auto e = CheckPassword(in.password)) errors.push_back({"password", *e});
  user.name = Trim(in.name);
  if (auto e = CheckName(user.name)) errors.push_back({"name", *e});
  if (!errors.empty()) co_return Invalid(std::move(errors));

  // Counted before any expensive work: the limit protects the hashing pool too.
  const std::string ip_key = LimitKey("register:ip:", client_ip);
  auto gate = co_await limiter_.Hit(ip_key, config_.registrations_per_ip, WindowMs());
  if (!gate.allowed) co_return TooMany(gate, "registrations");

  // Captured by reference: `in` lives in this coroutine's frame until the task
  // completes (and GCC 12 miscompiles move-captures in an inline co_await lambda).
  auto hash = co_await hash_pool_.Run([this, &in]() -> core::Result<std::string> {
    return hasher_.Hash(in.password);
  });
  if (!hash) {
    // A full pool is not the client's doing: the registration is not counted.
    if (hash.error().code == Errc::kUnavailable)
      co_await limiter_.Refund(ip_key, config_.registrations_per_ip, WindowMs());
    co_return hash.error();
  }
  user.id = core::NewUuid();
  user.role = "user";
  user.password_hash = std::move(*hash);
  user.created_at = clock_.UnixSeconds();
  auto created = co_await store_.CreateUser(std::move(user));
  if (!created && created.error().code == Errc::kConflict)
    co_return Error::Make(Errc::kConflict, "an account with this email already exists");
  co_return created;
}

// Reserves the attempt's events before the password is checked, so that N
// guesses sent at once cannot all pass a check made before any is counted.
// The per-(account, address) and per-address budgets refuse (429); the
// per-account ceiling only delays, so that strangers spending their budgets
// on an account cannot lock its owner out.
Async<bool> UsersService::ReserveLogin(LoginBudget& b) {
  const int64_t window = WindowMs();
  auto pair = co_await limiter_.Hit(b.pair_key, config_.login_failures_per_account_ip, window);
  if (!pair.allowed) co_return TooMany(pair, "failed logins for this account from this address");
  b.pair_counted = true;
  auto ip = co_await limiter_.Hit(b.ip_key, config_.login_failures_per_ip, window);
  if (!ip.allowed) {
    co_await RefundLogin(b);
    co_return TooMany(ip, "failed logins from this address");
  }
  b.ip_counted = true;
  auto account = co_await limiter_.Hit(b.account_key, config_.login_failures_per_account, window);
  if (account.allowed) {
    b.account_counted = true;
    co_return true;
  }
  slowed_->Inc();
  const int64_t delay_ms = std::min(account.retry_after_ms, config_.login_slowdown_max_ms);
  if (delay_ms > 0) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(delay_ms));
    // A cancelled wait (shutdown) just ends the delay early.
    (void)co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  co_return true;
}

boost::asio::awaitable<void> UsersService::RefundLogin(const LoginBudget& b) {
  const int64_t window = WindowMs();
  if (b.pair_counted) co_await limiter_.Refund(b.pair_key, config_.login_failures_per_account_ip, window);
  if (b.ip_counted) co_await limiter_.Refund(b.ip_key, config_.login_failures_per_ip, window);
  if (b.account_counted) co_await limiter_.Refund(b.account_key, config_.login_failures_per_account, window);
}

Async<TokenPair> UsersService::Login(std::string email_in, std::string password, std::string client_ip) {
  std::vector<core::FieldError> errors;
  const std::string_view trimmed = TrimView(email_in);
  if (trimmed.size() > kMaxEmailBytes) errors.push_back({"email", "must be at most 254 characters"});
  if (password.size() > kMaxPasswordBytes) errors.push_back({"password", "must be at most 1024 bytes"});
  if (!errors.empty()) co_return Invalid(std::move(errors));

  const std::string email = NormalizeEmail(trimmed);
  LoginBudget budget{LimitKey("login:pair:", PairSubject(email, client_ip)), LimitKey("login:ip:", client_ip),
                     LimitKey("login:account:", email)};
  if (auto reserved = co_await ReserveLogin(budget); !reserved) co_return reserved.error();

  auto user = co_await store_.FindUserByEmail(email);
  if (!user && user.error().code != Errc::kNotFound) {
    co_await RefundLogin(budget);
    co_return user.error();
  }
  // Unknown emails still pay for one argon2 verification: equal timing, no enumeration.
  const std::string& phc = user ? user->password_hash : hasher_.DummyHash();
  auto ok = co_await hash_pool_.Run([this, &phc, &password]() -> core::Result<bool> {
    verifications_->Inc();
    return hasher_.Verify(phc, password);
  });
  if (!ok) {
    // Not verified (pool full): the attempt is not a failure.
    co_await RefundLogin(budget);
    co_return ok.error();
  }
  if (!user || !*ok) co_return InvalidCredentials();
  co_await RefundLogin(budget);
  co_return co_await IssueTokens(*user, core::NewUuid());
}

std::string UsersService::SignAccess(const User& user, int64_t now) const {
  return jwt_.Sign(auth::AccessClaims{.sub = user.id,
                                      .role = user.role,
                                      .jti = core::FastId(),
                                      .iat = now,
                                      .exp = now + config_.access_token_ttl_s,
                                      .ver = user.token_version});
}

Async<TokenPair> UsersService::IssueTokens(const User& user, std::string family_id) {
  const int64_t now = clock_.UnixSeconds();
  TokenPair pair{SignAccess(user, now), core::SecureToken(kRefreshTokenBytes), config_.access_token_ttl_s};
  storage::RefreshToken record{.token_hash = auth::Sha256Hex(pair.refresh_token),
                               .user_id = user.id,
                               .family_id = std::move(family_id),
                               .issued_at = now,
                               .expires_at = now + std::min(config_.refresh_token_ttl_s,
                                                            config_.refresh_family_max_age_s()),
                               .family_started_at = now};
  // Refused when the user's sessions were revoked after this login read the
  // account (a password change racing a login with the old password).
  auto stored = co_await store_.InsertRefreshToken(std::move(record), user.token_version);
  if (!stored) {
    if (stored.error().code == Errc::kConflict)
      co_return Error::Make(Errc::kUnauthenticated, "the account's sessions were revoked during this login; log in again")
          .WithType("sessions-revoked");
    co_return stored.error();
  }
  co_return pair;
}

namespace {

// nullopt when the token has a shape we could have issued; else the answer.
std::optional<Error> CheckRefreshTokenShape(std::string_view token) {
  if (token.size() > kRefreshTokenChars)
    return Invalid({{"refresh_token", "must be at most " + std::to_string(kRefreshTokenChars) + " characters"}});
  if (token.size() != kRefreshTokenChars) return InvalidRefreshToken();
  for (unsigned char c : token)
    if (!std::isalnum(c) && c != '-' && c != '_') return InvalidRefreshToken();
  return std::nullopt;
}

}  // namespace

Async<bool> UsersService::HitTokenLimit(const std::string& client_ip) {
  auto gate = co_await limiter_.Hit(LimitKey("token:ip:", client_ip), config_.token_requests_per_ip, WindowMs());
  if (!gate.allowed) co_return TooMany(gate, "refresh and logout requests from this address");
  co_return true;
}

// The read every refresh and logout starts with. A token that is unknown,
// revoked, or past its family's lifetime is refused here; a spent one is
// returned (rotating it is how its reuse revokes the family).
Async<storage::StoredRefreshToken> UsersService::FindLiveRefreshToken(const std::string& token_hash, int64_t now) {
  auto found = co_await store_.FindRefreshToken(token_hash);
  if (!found) co_return found.error().code == Errc::kNotFound ? InvalidRefreshToken() : found.error();
  if (found->revoked || found->token.family_started_at < now - config_.refresh_family_max_age_s())
    co_return InvalidRefreshToken();
  if (!found->spent && found->token.expires_at <= now) co_return InvalidRefreshToken();
  co_return found;
}

Async<TokenPair> UsersService::Refresh(std::string refresh_token, std::string client_ip) {
  if (auto e = CheckRefreshTokenShape(refresh_token)) co_return std::move(*e);
  if (auto allowed = co_await HitTokenLimit(client_ip); !allowed) co_return allowed.error();
  const int64_t now = clock_.UnixSeconds();
  const std::string hash = auth::Sha256Hex(refresh_token);
  auto found = co_await FindLiveRefreshToken(hash, now);
  if (!found) co_return found.error();

  const int64_t family_ends = found->token.family_started_at + config_.refresh_family_max_age_s();
  TokenPair pair;
  pair.refresh_token = core::SecureToken(kRefreshTokenBytes);
  pair.expires_in = config_.access_token_ttl_s;
  storage::RefreshToken next{.token_hash = auth::Sha256Hex(pair.refresh_token),
                             .issued_at = now,
                             .expires_at = std::min(now + config_.refresh_token_ttl_s, family_ends)};
  auto rotated =
      co_await store_.RotateRefreshToken(hash, std::move(next), now, now - config_.refresh_family_max_age_s());
  if (!rotated) {
    if (rotated.error().code == Errc::kUnauthenticated) co_return InvalidRefreshToken();
    co_return rotated.error();
  }
  // The owner as the rotation saw it: a revocation after it also revoked
  // the new refresh token, and raised the version past this access token's.
  pair.access_token = SignAccess(rotated->user, now);
  cache_.Put(rotated->user);
  co_return pair;
}

Async<void> UsersService::Logout(std::string refresh_token, bool everywhere, std::string client_ip) {
  if (auto e = CheckRefreshTokenShape(refresh_token)) {
    // Too long is a bad request. Any other shape cannot be a live token:
    // nothing to end, unless the caller needed it to name the user.
    if (e->code == Errc::kInvalidArgument || everywhere) co_return std::move(*e);
    co_return core::Result<void>{};
  }
  if (auto allowed = co_await HitTokenLimit(client_ip); !allowed) co_return allowed.error();
  const int64_t now = clock_.UnixSeconds();
  const std::string hash = auth::Sha256Hex(refresh_token);
  auto found = co_await FindLiveRefreshToken(hash, now);
  if (everywhere) {
    if (!found) co_return found.error();
    if (found->spent) co_return InvalidRefreshToken();
    // Named, not a temporary inside co_await: GCC 12 mishandles prvalues with
    // non-trivial members in a coroutine's co_await expression.
    storage::SessionRevocation revocation{.user_id = found->token.user_id};
    auto user = co_await store_.RevokeSessions(std::move(revocation), now);
    if (!user) co_return user.error().code == Errc::kNotFound ? InvalidRefreshToken() : user.error();
    // This process stops accepting the user's older access tokens at once;
    // other processes when their cached entry expires (user-cache-ttl-s).
    cache_.Put(*user);
    co_return core::Result<void>{};
  }
  // Logging out a session that is already over is a success, and costs no write.
  if (!found) co_return found.error().code == Errc::kUnauthenticated ? core::Result<void>{} : found.error();
  co_return co_await store_.RevokeRefreshFamily(hash, now);
}

std::optional<core::Result<void>> UsersService::CheckSessionCached(const std::string& user_id, int64_t token_version) {
  const std::optional<int64_t> cached = cache_.TokenVersion(user_id);
  // Cached at an older version than the token's: the entry is stale (another
  // process revoked and re-issued); the store has the answer.
  if (!cached || *cached < token_version) return std::nullopt;
  if (*cached > token_version) return core::Result<void>(SessionRevoked());
  return core::Result<void>{};
}

Async<void> UsersService::CheckSession(std::string user_id, int64_t token_version) {
  auto user = co_await store_.FindUserById(user_id);
  if (!user) {
    if (user.error().code == Errc::kNotFound)
      co_return Error::Make(Errc::kUnauthenticated, "the account for this token no longer exists");
    co_return user.error();
  }
  user->password_hash.clear();
  cache_.Put(*user);
  if (user->token_version > token_version) co_return SessionRevoked();
  co_return core::Result<void>{};
}

Async<int64_t> UsersService::PurgeRefreshTokens(int64_t batch, int max_batches) {
  int64_t total = 0;
  for (int i = 0; i < max_batches; ++i) {
    const int64_t now = clock_.UnixSeconds();
    auto purged = co_await store_.PurgeRefreshTokens(now, now - config_.refresh_family_max_age_s(), batch);
    if (!purged) co_return purged.error();
    total += *purged;
    if (*purged < batch) break;
  }
  co_return total;
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

Async<User> UsersService::GetMe(const core::Principal& caller) {
  auto user = co_await FindCached(caller.user_id);
  if (!user && user.error().code == Errc::kNotFound)
    co_return Error::Make(Errc::kUnauthenticated, "the account for this token no longer exists");
  co_return user;
}

Async<User> UsersService::GetUser(const core::Principal& caller, std::string id) {
  if (caller.user_id != id && !caller.IsAdmin()) co_return Error::Make(Errc::kNotFound, "no such user");
  auto user = co_await FindCached(id);
  if (!user && user.error().code == Errc::kNotFound) co_return Error::Make(Errc::kNotFound, "no such user");
  co_return user;
}

namespace {

Error NotPromoted(const std::string& email) {
  return Error::Make(Errc::kConflict,
                     "SHOPD_ADMIN_EMAIL " + email +
                         " belongs to an existing account that is not an admin, and shopd never promotes an existing "
                         "account at start-up. Set SHOPD_ADMIN_EMAIL to an address without an account (a new admin "
                         "is created), or unset it.");
}

}  // namespace

Async<User> UsersService::EnsureAdmin(std::string email_in, std::string password) {
  User admin;
  admin.email = NormalizeEmail(email_in);
  if (auto e = CheckEmail(admin.email)) co_return Error::Invalid("SHOPD_ADMIN_EMAIL " + *e);
  if (auto e = CheckPassword(password)) co_return Error::Invalid("SHOPD_ADMIN_PASSWORD " + *e);

  auto existing = co_await store_.FindUserByEmail(admin.email);
  if (!existing && existing.error().code != Errc::kNotFound) co_return existing.error();
  if (!existing) {
    auto hash = co_await hash_pool_.Run([this, &password]() -> core::Result<std::string> {
      return hasher_.Hash(password);
    });
    if (!hash) co_return hash.error();
    admin.id = core::NewUuid();
    admin.name = "Administrator";
    admin.role = "admin";
    admin.password_hash = std::move(*hash);
    admin.created_at = clock_.UnixSeconds();
    auto stored = co_await store_.CreateUserIfAbsent(admin);
    if (!stored) co_return stored.error();
    // Someone registered the email, or another process bootstrapped it, in between.
    if (stored->id != admin.id) existing = std::move(*stored);
    else co_return stored;
  }
  if (existing->role != "admin") co_return NotPromoted(admin.email);
  const std::string phc = existing->password_hash;
  auto same = co_await hash_pool_.Run([this, &phc, &password]() -> core::Result<bool> {
    return hasher_.Verify(phc, password);
  });
  if (!same) co_return same.error();
  if (*same) co_return existing;
  // A new password: its sessions were granted on the old one.
  auto hash = co_await hash_pool_.Run([this, &password]() -> core::Result<std::string> {
    return hasher_.Hash(password);
  });
  if (!hash) co_return hash.error();
  storage::SessionRevocation revocation{.user_id = existing->id, .new_password_hash = std::move(*hash)};
  auto updated = co_await store_.RevokeSessions(std::move(revocation), clock_.UnixSeconds());
  if (updated) cache_.Invalidate(updated->id);
  co_return updated;
}

}  // namespace shopd::services

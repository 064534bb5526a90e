#include "services/users/users_config.h"

namespace shopd::services {

void UsersConfig::Declare(config::ConfigSource& src) {
  src.Declare({"access-token-ttl-s", "900", "access token (JWT) lifetime in seconds"});
  src.Declare({"refresh-token-ttl-s", "2592000", "refresh token lifetime in seconds"});
  src.Declare({"login-failures-per-account", "5", "failed logins allowed per account per rate window"});
  src.Declare({"login-failures-per-ip", "50", "failed logins allowed per client IP per rate window"});
  src.Declare({"registrations-per-ip", "20", "registrations allowed per client IP per rate window"});
  src.Declare({"rate-window-s", "60", "rate limit window in seconds"});
  src.Declare({"argon2-memory-kib", "19456", "argon2id memory cost in KiB (OWASP: 19456)"});
  src.Declare({"argon2-iterations", "2", "argon2id time cost (OWASP: 2)"});
  src.Declare({"user-cache-entries", "100000", "users kept in the in-process cache"});
  src.Declare({"user-cache-ttl-s", "30", "how long a cached user is trusted"});
}

core::Result<UsersConfig> UsersConfig::Load(const config::ConfigSource& src) {
  UsersConfig c;
  config::ConfigErrors errs;
  int64_t v = 0;
  errs.Take(src.GetInt("access-token-ttl-s", 1, 24 * 3600), c.access_token_ttl_s);
  errs.Take(src.GetInt("refresh-token-ttl-s", 60, 365LL * 24 * 3600), c.refresh_token_ttl_s);
  errs.Take(src.GetInt("login-failures-per-account", 1, 1'000'000), v);
  c.login_failures_per_account = static_cast<int>(v);
  errs.Take(src.GetInt("login-failures-per-ip", 1, 1'000'000), v);
  c.login_failures_per_ip = static_cast<int>(v);
  errs.Take(src.GetInt("registrations-per-ip", 1, 1'000'000), v);
  c.registrations_per_ip = static_cast<int>(v);
  errs.Take(src.GetInt("rate-window-s", 1, 24 * 3600), c.rate_window_s);
  errs.Take(src.GetInt("argon2-memory-kib", 8, 4 * 1024 * 1024), v);
  c.argon2.memory_kib = static_cast<uint32_t>(v);
  errs.Take(src.GetInt("argon2-iterations", 1, 64), v);
  c.argon2.iterations = static_cast<uint32_t>(v);
  errs.Take(src.GetInt("user-cache-entries", 1, 100'000'000), c.user_cache_entries);
  errs.Take(src.GetInt("user-cache-ttl-s", 1, 3600), c.user_cache_ttl_s);
  if (auto r = errs.Finish(); !r) return r.error();
  return c;
}

}  // namespace shopd::services

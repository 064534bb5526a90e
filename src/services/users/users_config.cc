#include "services/users/users_config.h"

namespace shopd::services {

void UsersConfig::Declare(config::ConfigSource& src) {
  src.Declare({"access-token-ttl-s", "900", "access token (JWT) lifetime in seconds"});
  src.Declare({"refresh-token-ttl-s", "2592000", "refresh token lifetime in seconds"});
  src.Declare({"refresh-family-max-age-days", "90",
               "absolute lifetime of a login's refresh tokens: past it, refresh is refused however fresh the token"});
  src.Declare({"token-requests-per-ip", "120",
               "refresh and logout requests allowed per client address per rate window; beyond that 429"});
  src.Declare({"login-failures-per-account-ip", "5",
               "failed logins allowed per (account, client address) per rate window; beyond that 429"});
  src.Declare({"login-failures-per-ip", "50", "failed logins allowed per client address per rate window; beyond that 429"});
  src.Declare({"login-failures-per-account", "100",
               "failed logins per account (all addresses) per rate window before attempts on it are slowed down "
               "(never refused)"});
  src.Declare({"login-slowdown-max-ms", "2000", "longest delay given to a login on an account over its failure ceiling"});
  src.Declare({"registrations-per-ip", "20", "registrations allowed per client IP per rate window"});
  src.Declare({"rate-window-s", "60", "rate limit window in seconds"});
  src.Declare({"argon2-memory-kib", "19456",
               "argon2id memory cost in KiB; with --argon2-iterations it must meet one row of the OWASP floor: " +
                   auth::DescribeOwaspFloor()});
  src.Declare({"argon2-iterations", "2", "argon2id time cost (see --argon2-memory-kib for the floor)"});
  src.Declare({"insecure-fast-hashing-for-tests", "false",
               "TESTS ONLY: accept argon2 parameters below the OWASP floor, so test suites can hash fast; "
               "password hashes made this way are weak. Logged as a warning at start-up"});
  src.Declare({"user-cache-entries", "100000", "users kept in the in-process cache"});
  src.Declare({"user-cache-ttl-s", "30", "how long a cached user is trusted"});
}

core::Result<UsersConfig> UsersConfig::Load(const config::ConfigSource& src) {
  UsersConfig c;
  config::ConfigErrors errs;
  int64_t v = 0;
  errs.Take(src.GetInt("access-token-ttl-s", 1, 24 * 3600), c.access_token_ttl_s);
  errs.Take(src.GetInt("refresh-token-ttl-s", 60, 365LL * 24 * 3600), c.refresh_token_ttl_s);
  errs.Take(src.GetInt("refresh-family-max-age-days", 1, 3650), c.refresh_family_max_age_days);
  errs.Take(src.GetInt("token-requests-per-ip", 1, 1'000'000), v);
  c.token_requests_per_ip = static_cast<int>(v);
  errs.Take(src.GetInt("login-failures-per-account-ip", 1, 1'000'000), v);
  c.login_failures_per_account_ip = static_cast<int>(v);
  errs.Take(src.GetInt("login-failures-per-ip", 1, 1'000'000), v);
  c.login_failures_per_ip = static_cast<int>(v);
  errs.Take(src.GetInt("login-failures-per-account", 1, 1'000'000), v);
  c.login_failures_per_account = static_cast<int>(v);
  errs.Take(src.GetInt("login-slowdown-max-ms", 0, 5000), c.login_slowdown_max_ms);
  errs.Take(src.GetInt("registrations-per-ip", 1, 1'000'000), v);
  c.registrations_per_ip = static_cast<int>(v);
  errs.Take(src.GetInt("rate-window-s", 1, 24 * 3600), c.rate_window_s);
  errs.Take(src.GetInt("argon2-memory-kib", 8, 4 * 1024 * 1024), v);
  c.argon2.memory_kib = static_cast<uint32_t>(v);
  errs.Take(src.GetInt("argon2-iterations", 1, 64), v);
  c.argon2.iterations = static_cast<uint32_t>(v);
  errs.Take(src.GetBool("insecure-fast-hashing-for-tests"), c.insecure_fast_hashing_for_tests);
  if (!auth::MeetsOwaspFloor(c.argon2) && !c.insecure_fast_hashing_for_tests)
    errs.Add("argon2-memory-kib / argon2-iterations: m=" + std::to_string(c.argon2.memory_kib) + " KiB with t=" +
             std::to_string(c.argon2.iterations) + " is below the OWASP floor for argon2id (one of: " +
             auth::DescribeOwaspFloor() + "); raise them (the defaults are m=19456 t=2)");
  errs.Take(src.GetInt("user-cache-entries", 1, 100'000'000), c.user_cache_entries);
  errs.Take(src.GetInt("user-cache-ttl-s", 1, 3600), c.user_cache_ttl_s);
  if (auto r = errs.Finish(); !r) return r.error();
  return c;
}

}  // namespace shopd::services

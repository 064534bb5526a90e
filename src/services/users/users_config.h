// services/users: settings of the user and auth service, declared and validated here.
#pragma once

#include <cstdint>

#include "auth/password_hasher.h"
#include "config/config_source.h"
#include "core/error.h"

namespace shopd::services {

struct UsersConfig {
  int64_t access_token_ttl_s = 900;
  int64_t refresh_token_ttl_s = 30 * 24 * 3600;
  // The absolute lifetime of a refresh-token family (one login and all its
  // rotations): past it, refresh is refused however fresh the token is.
  int64_t refresh_family_max_age_days = 90;
  // Refresh and logout requests per client address per rate window. Over it: 429.
  int token_requests_per_ip = 120;
  // Failed logins per (account, client address): the budget a guesser gets
  // from one address. Over it: 429.
  int login_failures_per_account_ip = 5;
  // Failed logins per client address, whatever the account. Over it: 429.
  int login_failures_per_ip = 50;
  // Failed logins per account from all addresses together. Over it, attempts
  // on the account are slowed down (by up to login_slowdown_max_ms), never
  // refused, so strangers cannot lock the owner out.
  int login_failures_per_account = 100;
  int64_t login_slowdown_max_ms = 2000;
  int registrations_per_ip = 20;
  int64_t rate_window_s = 60;
  // Must meet auth::kOwaspArgon2Floor unless insecure_fast_hashing_for_tests,
  // which exists so that test suites can hash in a millisecond.
  auth::Argon2Params argon2;
  bool insecure_fast_hashing_for_tests = false;
  int64_t user_cache_entries = 100'000;
  int64_t user_cache_ttl_s = 30;

  int64_t refresh_family_max_age_s() const { return refresh_family_max_age_days * 24 * 3600; }

  static void Declare(config::ConfigSource& src);
  static core::Result<UsersConfig> Load(const config::ConfigSource& src);
};

}  // namespace shopd::services

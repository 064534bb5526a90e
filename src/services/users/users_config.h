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
  int login_failures_per_account = 5;
  int login_failures_per_ip = 50;
  int registrations_per_ip = 20;
  int64_t rate_window_s = 60;
  auth::Argon2Params argon2;
  int64_t user_cache_entries = 100'000;
  int64_t user_cache_ttl_s = 30;

  static void Declare(config::ConfigSource& src);
  static core::Result<UsersConfig> Load(const config::ConfigSource& src);
};

}  // namespace shopd::services

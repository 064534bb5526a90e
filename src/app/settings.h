// app: every module's typed settings, loaded together so that all bad values
// are reported at once before anything starts.
#pragma once

#include <string>

#include "app/app_config.h"
#include "config/config_source.h"
#include "http/server_config.h"
#include "redis/redis_config.h"
#include "services/catalog/catalog_config.h"
#include "services/orders/orders_config.h"
#include "services/users/users_config.h"
#include "workers/workers_config.h"

namespace shopd::app {

struct Settings {
  AppConfig app;
  http::ServerConfig server;
  services::UsersConfig users;
  services::CatalogConfig catalog;
  services::OrdersConfig orders;
  workers::WorkersConfig workers;
  redis::RedisConfig redis;  // empty url: in-process cache and rate limits
  std::string jwt_secret;  // resolved at start-up (environment or data dir)

  // Declares every module's options on `src` (for --help and for Load).
  static void DeclareAll(config::ConfigSource& src);
  static core::Result<Settings> Load(const config::ConfigSource& src);
};

}  // namespace shopd::app

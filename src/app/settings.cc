#include "app/settings.h"

namespace shopd::app {

void Settings::DeclareAll(config::ConfigSource& src) {
  AppConfig::Declare(src);
  http::ServerConfig::Declare(src);
  services::UsersConfig::Declare(src);
  services::CatalogConfig::Declare(src);
  services::OrdersConfig::Declare(src);
  workers::WorkersConfig::Declare(src);
  redis::RedisConfig::Declare(src);
}

core::Result<Settings> Settings::Load(const config::ConfigSource& src) {
  Settings s;
  config::ConfigErrors errs;
  errs.Take(AppConfig::Load(src), s.app);
  errs.Take(http::ServerConfig::Load(src), s.server);
  errs.Take(services::UsersConfig::Load(src), s.users);
  errs.Take(services::CatalogConfig::Load(src), s.catalog);
  errs.Take(services::OrdersConfig::Load(src), s.orders);
  errs.Take(workers::WorkersConfig::Load(src), s.workers);
  errs.Take(redis::RedisConfig::Load(src), s.redis);
  if (auto r = errs.Finish(); !r) return r.error();
  return s;
}

}  // namespace shopd::app

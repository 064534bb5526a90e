#include "app/settings.h"

namespace shopd::app {

void Settings::DeclareAll(config::ConfigSource& src) {
  AppConfig::Declare(src);
  http::ServerConfig::Declare(src);
  services::UsersConfig::Declare(src);
  services::CatalogConfig::Declare(src);
  workers::WorkersConfig::Declare(src);
}

core::Result<Settings> Settings::Load(const config::ConfigSource& src) {
  Settings s;
  std::string errors;
  auto collect = [&](auto result, auto& out) {
    if (result) out = std::move(*result);
    else errors += (errors.empty() ? "" : "; ") + result.error().message;
  };
  collect(AppConfig::Load(src), s.app);
  collect(http::ServerConfig::Load(src), s.server);
  collect(services::UsersConfig::Load(src), s.users);
  collect(services::CatalogConfig::Load(src), s.catalog);
  collect(workers::WorkersConfig::Load(src), s.workers);
  if (!errors.empty()) return core::Error::Invalid(errors);
  return s;
}

}  // namespace shopd::app

#include "app/database_url.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace shopd::app {

core::Result<std::string> DatabaseUrlOrFile(const std::string& value) {
  if (!value.empty()) return value;
  const char* file = std::getenv("SHOPD_DATABASE_URL_FILE");
  if (file == nullptr || *file == '\0') return std::string();
  std::ifstream in(file);
  std::string url;
  if (!in || !std::getline(in, url))
    return core::Error::Invalid(std::string("cannot read SHOPD_DATABASE_URL_FILE ") + file);
  while (!url.empty() && (url.back() == '\r' || url.back() == ' ')) url.pop_back();
  return url;
}

core::Result<DatabaseTarget> ParseDatabaseUrl(const std::string& url, const std::string& data_dir) {
  DatabaseTarget t;
  if (url.empty()) {
    t.sqlite_dir = data_dir;
    t.sqlite_file = "shopd.db";
    return t;
  }
  if (url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0) {
    t.kind = DatabaseTarget::Kind::kPostgres;
    t.url = url;
    return t;
  }
  if (url.rfind("sqlite:", 0) == 0) {
    const std::filesystem::path path(url.substr(7));
    if (path.empty() || !path.has_filename())
      return core::Error::Invalid("database-url: sqlite: needs a file, e.g. sqlite:./data/shop.db");
    t.sqlite_dir = path.has_parent_path() ? path.parent_path().string() : ".";
    t.sqlite_file = path.filename().string();
    return t;
  }
  return core::Error::Invalid("database-url: expected sqlite:PATH or postgres://USER@HOST:PORT/DB, got '" +
                              RedactedUrl(url) + "'");
}

std::string RedactedUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace shopd::app

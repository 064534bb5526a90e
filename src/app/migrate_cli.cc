#include "app/migrate_cli.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>

#include "app/database_url.h"
#include "core/error.h"
#include "storage/postgres/pg_migrations.h"
#include "storage/postgres/pg_pool.h"

namespace shopd::app {
namespace {

namespace asio = boost::asio;
using storage::postgres::PgPool;
using Versions = std::map<int64_t, std::string>;  // version -> name

constexpr int kUnavailable = 1;
constexpr int kUsageError = 2;

asio::awaitable<core::Result<Versions>> Applied(PgPool& pool) {
  auto exists = co_await pool.Query("SELECT to_regclass('schema_migrations') IS NOT NULL", {});
  if (!exists) co_return exists.error();
  Versions out;
  if (!exists->Bool(0, 0)) co_return out;
  auto rows = co_await pool.Query("SELECT version, name FROM schema_migrations ORDER BY version", {});
  if (!rows) co_return rows.error();
  for (int i = 0; i < rows->rows(); ++i) out.emplace(rows->Int64(i, 0), rows->Text(i, 1));
  co_return out;
}

// What was applied is what schema_migrations holds now and did not before
// (with replicas migrating at once, it may include a migration another one
// applied while this one waited for the lock).
asio::awaitable<core::Result<std::string>> Migrate(PgPool& pool) {
  auto before = co_await Applied(pool);
  if (!before) co_return before.error();
  if (auto r = co_await storage::postgres::ApplyMigrations(pool); !r) co_return r.error();
  auto after = co_await Applied(pool);
  if (!after) co_return after.error();
  std::ostringstream report;
  size_t applied = 0;
  for (const auto& [version, name] : *after) {
    if (before->count(version)) continue;
    report << "applied " << version << " (" << name << ")\n";
    ++applied;
  }
  const int64_t version = after->empty() ? 0 : after->rbegin()->first;
  report << "schema at version " << version;
  if (applied == 0) report << ": nothing to apply";
  report << "\n";
  co_return report.str();
}

}  // namespace

int MigrateCommand(const std::string& database_url, std::ostream& out, std::ostream& err) {
  const char* env = std::getenv("SHOPD_DATABASE_URL");
  auto resolved = DatabaseUrlOrFile(database_url.empty() && env ? std::string(env) : database_url);
  if (!resolved) {
    err << "shopd migrate: " << resolved.error().message << "\n";
    return kUsageError;
  }
  const std::string url = *resolved;
  if (url.empty()) {
    err << "shopd migrate: no database URL: pass --database-url postgres://USER@HOST:PORT/DB, or set "
           "SHOPD_DATABASE_URL (or SHOPD_DATABASE_URL_FILE)\n";
    return kUsageError;
  }
  auto target = ParseDatabaseUrl(url, ".");
  if (!target) {
    err << "shopd migrate: " << target.error().message << "\n";
    return kUsageError;
  }
  if (!target->postgres()) {
    err << "shopd migrate: " << url << " is a SQLite database; `shopd serve` migrates those itself when it opens "
        << "them\n";
    return kUsageError;
  }

  asio::io_context io(1);
  std::optional<core::Result<std::string>> result;
  {
    PgPool pool(io.get_executor(), {.conninfo = url, .max_connections = 1});
    asio::co_spawn(io, Migrate(pool), [&](std::exception_ptr e, core::Result<std::string> r) {
      if (e) {
        result = core::Error::Make(core::Errc::kInternal, "internal error", core::ExceptionText(e));
        return;
      }
      result = std::move(r);
    });
    io.run();
  }
  if (!result || !*result) {
    const core::Error e = result ? result->error() : core::Error::Make(core::Errc::kInternal, "no result");
    err << "shopd migrate: " << RedactedUrl(url) << ": " << e.message;
    if (!e.internal.empty()) err << " (" << e.internal << ")";
    err << "\n";
    return kUnavailable;
  }
  out << **result;
  return 0;
}

}  // namespace shopd::app

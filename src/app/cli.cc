#include "app/cli.h"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>

#include "app/data_dir.h"
#include "app/database_url.h"
#include "app/jwt_secret.h"
#include "app/migrate_cli.h"
#include "app/queue_cli.h"
#include "app/serve.h"
#include "app/settings.h"
#include "app/supervisor.h"
#include "auth/password_hasher.h"
#include "obs/log.h"

namespace shopd::app {
namespace {

constexpr const char* kVersion = "0.1.0";
constexpr int kUsageError = 2;

// Loud on purpose: on stderr and in the log, at every start, so that a test-only
// setting that reached a real deployment is hard to miss.
void WarnInsecureHashing(const services::UsersConfig& users) {
  const bool below = !auth::MeetsOwaspFloor(users.argon2);
  std::cerr << "shopd serve: WARNING: --insecure-fast-hashing-for-tests is set: argon2id m="
            << users.argon2.memory_kib << " KiB t=" << users.argon2.iterations
            << (below ? " is accepted below the OWASP floor" : " (meets the OWASP floor anyway)")
            << ". Password hashes made now are weak. Never use this outside tests.\n";
  obs::LogWarn("INSECURE: fast password hashing for tests is enabled; never use this outside tests",
               {{"option", "insecure-fast-hashing-for-tests"},
                {"argon2_memory_kib", users.argon2.memory_kib},
                {"argon2_iterations", users.argon2.iterations},
                {"below_owasp_floor", below}});
}

int Serve(const config::ConfigSource& src) {
  auto settings = Settings::Load(src);
  if (!settings) {
    std::cerr << "shopd serve: " << settings.error().message << "\n";
    return kUsageError;
  }
  if (auto ok = EnsureDataDir(settings->app.data_dir); !ok) {
    std::cerr << "shopd serve: " << ok.error().message << "\n";
    return kUsageError;
  }
  const char* env_secret = std::getenv("SHOPD_JWT_SECRET");
  // Replicas sign and verify each other's tokens: a secret made up in one
  // replica's data dir would log users out whenever a balancer switched.
  if (auto target = ParseDatabaseUrl(settings->app.database_url, settings->app.data_dir);
      target && target->postgres() && (env_secret == nullptr || *env_secret == '\0')) {
    std::cerr << "shopd serve: SHOPD_JWT_SECRET must be set with a postgres:// database: every replica must sign "
                 "tokens with the same secret\n";
    return kUsageError;
  }
  auto secret = LoadOrCreateJwtSecret(settings->app.data_dir,
                                      env_secret ? std::optional<std::string_view>(env_secret) : std::nullopt);
  if (!secret) {
    std::cerr << "shopd serve: " << secret.error().message << "\n";
    return kUsageError;
  }
  settings->jwt_secret = std::move(*secret);

  obs::InitLogging({.level = settings->app.log_level});
  if (settings->users.insecure_fast_hashing_for_tests) WarnInsecureHashing(settings->users);
  if (auto boot = Bootstrap(*settings); !boot) {
    obs::LogError("start-up failed", {{"error", boot.error().message}, {"detail", boot.error().internal}});
    obs::ShutdownLogging();
    return 1;
  }
  if (settings->app.processes == 0) {
    int rc = RunServer(*settings);
    obs::ShutdownLogging();
    return rc;
  }
  // Nothing threaded may run in the supervisor when it forks.
  obs::ShutdownLogging();
  SupervisorOptions opts;
  opts.processes = settings->app.processes;
  opts.shutdown_grace_ms = settings->server.drain_timeout_ms + 5000;
  return RunSupervisor(opts, [&settings] {
    obs::InitLogging({.level = settings->app.log_level});
    int rc = RunServer(*settings);
    obs::ShutdownLogging();
    return rc;
  });
}

}  // namespace

int Main(int argc, char** argv) {
  // A closed stdout (log pipe) must not kill the server; writes report EPIPE instead.
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App cli{"shopd: a fast, durable e-commerce backend (users, catalog, orders) in one binary.\n"
               "Every option OPT is also read from the environment as SHOPD_OPT (flag wins).\n"
               "Secrets come from the environment only: SHOPD_JWT_SECRET, SHOPD_ADMIN_EMAIL,\n"
               "SHOPD_ADMIN_PASSWORD.",
               "shopd"};
  cli.set_version_flag("--version", kVersion);
  cli.footer(
      "Start with:  shopd serve [--listen HOST:PORT] [--data-dir DIR] [--threads N] [--processes N]\n"
      "Every option: shopd serve --help");
  cli.require_subcommand(1);

  config::ConfigSource src;
  Settings::DeclareAll(src);
  CLI::App* serve = cli.add_subcommand(
      "serve", "serve the HTTP API (embedded: SQLite in --data-dir; scale-out: --database-url postgres://...)");
  std::map<std::string, std::string> values;
  for (const auto& spec : src.Specs()) {
    // Secrets (a URL with a password) come from the environment only: a flag
    // would show them to every user of `ps`.
    if (spec.secret) continue;
    std::string help = spec.help + " [env " + config::ConfigSource::EnvName(spec.key) +
                       (spec.default_value.empty() ? "" : ", default " + spec.default_value) + "]";
    serve->add_option("--" + spec.key, values[spec.key], help);
  }

  CLI::App* queue_cmd =
      cli.add_subcommand("queue", "inspect the job queue (the SQLite file in a data dir, or --database-url)");
  queue_cmd->require_subcommand(1);
  QueueTarget queue_target;
  queue_target.data_dir = std::getenv("SHOPD_DATA_DIR") ? std::getenv("SHOPD_DATA_DIR") : "./data";
  queue_target.database_url = std::getenv("SHOPD_DATABASE_URL") ? std::getenv("SHOPD_DATABASE_URL") : "";
  CLI::App* stats_cmd = queue_cmd->add_subcommand("stats", "depth, in-flight, dead letters and completions per queue");
  CLI::App* dead_cmd = queue_cmd->add_subcommand("dead-letters", "list dead letters, or re-enqueue one");
  for (CLI::App* cmd : {stats_cmd, dead_cmd}) {
    cmd->add_option("--data-dir", queue_target.data_dir, "data directory [env SHOPD_DATA_DIR, default ./data]");
    cmd->add_option("--database-url", queue_target.database_url,
                    "sqlite:PATH or postgres://... instead of the data dir [env SHOPD_DATABASE_URL, or a file "
                    "named by SHOPD_DATABASE_URL_FILE]");
  }
  std::string dead_queue = "order-saga";
  int64_t dead_limit = 100;
  int64_t retry_id = 0;
  dead_cmd->add_option("--queue", dead_queue, "queue name [default order-saga]");
  dead_cmd->add_option("--limit", dead_limit, "at most this many [default 100]")->check(CLI::Range(1, 1000));
  dead_cmd->add_option("--retry", retry_id, "re-enqueue the dead letter with this id")->check(CLI::PositiveNumber);

  CLI::App* migrate_cmd =
      cli.add_subcommand("migrate", "bring a PostgreSQL database's schema up to this build's (idempotent)");
  std::string database_url;
  migrate_cmd->add_option("--database-url", database_url,
                          "postgres://USER[:PASSWORD]@HOST[:PORT]/DB [env SHOPD_DATABASE_URL, or a file named by "
                          "SHOPD_DATABASE_URL_FILE]");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = cli.exit(e);
    return rc == 0 ? 0 : kUsageError;
  }
  for (const auto& [key, value] : values)
    if (serve->count("--" + key) > 0) src.SetFlag(key, value);
  if (serve->parsed()) return Serve(src);
  if (stats_cmd->parsed()) return QueueStatsCommand(queue_target);
  if (migrate_cmd->parsed()) return MigrateCommand(database_url, std::cout, std::cerr);
  if (dead_cmd->parsed())
    return QueueDeadLettersCommand(queue_target, dead_queue, dead_limit,
                                   dead_cmd->count("--retry") ? std::optional<int64_t>(retry_id) : std::nullopt);
  return kUsageError;
}

}  // namespace shopd::app

#include "app/app_config.h"

#include <sched.h>

#include <algorithm>
#include <thread>

#include "app/database_url.h"

namespace shopd::app {

void AppConfig::Declare(config::ConfigSource& src) {
  src.Declare({"data-dir", "./data", "directory of the embedded database and generated secrets"});
  src.Declare({"database-url", "",
               "sqlite:PATH or postgres://USER@HOST:PORT/DB (unset: SQLite in --data-dir); also read from the file "
               "SHOPD_DATABASE_URL_FILE names"});
  src.Declare({"database-replica-url", "",
               "postgres:// URL of a streaming replica for listings that tolerate lag (unset: the primary)"});
  src.Declare({"db-pool-size", "16", "PostgreSQL connections per process (each database)"});
  src.Declare({"processes", "0",
               "0 = serve in this process; N = a supervisor forks N worker processes on the same port "
               "and restarts any that dies"});
  src.Declare({"db-threads", "4", "threads for blocking database work (SQLite)"});
  src.Declare({"db-queue", "4096", "database tasks allowed to wait; beyond that requests get 503"});
  src.Declare({"hash-threads", "0",
               "threads for password hashing per process, at most one per usable core (0 = min(2, cores / processes), at least 1)"});
  src.Declare({"hash-queue", "16", "password hashes allowed to wait for a hash thread; beyond that 503 at once"});
  src.Declare({"hash-queue-wait-ms", "1000",
               "a password hash that waited longer than this for a hash thread is answered 503 instead of run"});
  src.Declare({"access-log", "true", "write a JSON access log line per request to stdout"});
  src.Declare({"log-level", "info", "debug, info, warn or error"});
}

namespace {

// The cores this process may run on (taskset, cgroup cpusets), not the machine's.
int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

core::Result<AppConfig> AppConfig::Load(const config::ConfigSource& src) { return Load(src, UsableCores()); }

core::Result<AppConfig> AppConfig::Load(const config::ConfigSource& src, int cores) {
  AppConfig c;
  config::ConfigErrors errs;
  int64_t v = 0;
  errs.Take(src.GetString("data-dir"), c.data_dir);
  if (c.data_dir.empty()) errs.Add("data-dir: must not be empty");
  errs.Take(src.GetString("database-url"), c.database_url);
  if (auto url = DatabaseUrlOrFile(c.database_url); url) {
    c.database_url = *url;
    if (auto target = ParseDatabaseUrl(c.database_url, c.data_dir); !target) errs.Add(target.error().message);
  } else {
    errs.Add("database-url: " + url.error().message);
  }
  errs.Take(src.GetString("database-replica-url"), c.database_replica_url);
  if (!c.database_replica_url.empty()) {
    auto replica = ParseDatabaseUrl(c.database_replica_url, c.data_dir);
    auto primary = ParseDatabaseUrl(c.database_url, c.data_dir);
    if (!replica || !replica->postgres() || !primary || !primary->postgres())
      errs.Add("database-replica-url: a postgres:// URL, with a postgres:// --database-url");
  }
  errs.Take(src.GetInt("db-pool-size", 1, 1000), v);
  c.db_pool_size = static_cast<int>(v);
  errs.Take(src.GetInt("processes", 0, 256), v);
  c.processes = static_cast<int>(v);
  errs.Take(src.GetInt("db-threads", 1, 256), v);
  c.db_threads = static_cast<int>(v);
  errs.Take(src.GetInt("db-queue", 1, 1'000'000), c.db_queue);
  errs.Take(src.GetInt("hash-threads", 0, 1024), v);
  c.hash_threads = static_cast<int>(v);
  // More hashing threads than cores only takes CPU from the reactors.
  if (c.hash_threads > cores)
    errs.Add("hash-threads: " + std::to_string(c.hash_threads) + " is more than one per core (cores: " +
             std::to_string(cores) + " usable here)");
  if (c.hash_threads == 0) c.hash_threads = std::clamp(cores / std::max(1, c.processes), 1, 2);
  errs.Take(src.GetInt("hash-queue", 1, 10'000), c.hash_queue);
  errs.Take(src.GetInt("hash-queue-wait-ms", 1, 60'000), c.hash_queue_wait_ms);
  errs.Take(src.GetBool("access-log"), c.access_log);
  errs.Take(src.GetString("log-level"), c.log_level);
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error")
    errs.Add("log-level: expected debug, info, warn or error, got '" + c.log_level + "'");
  if (auto r = errs.Finish(); !r) return r.error();
  return c;
}

}  // namespace shopd::app

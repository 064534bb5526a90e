// app: process-level settings (data dir, processes, pools, logging).
#pragma once

#include <cstdint>
#include <string>

#include "config/config_source.h"
#include "core/error.h"

namespace shopd::app {

struct AppConfig {
  std::string data_dir = "./data";
  // Where the data lives (app/database_url.h): "" = SQLite in data_dir.
  std::string database_url;
  // A streaming replica for reads that tolerate lag (product and order
  // listings); "" = every read on the primary. PostgreSQL only.
  std::string database_replica_url;
  int db_pool_size = 16;  // PostgreSQL connections per process, per database
  int processes = 0;  // 0 = serve in this process; N = supervisor + N workers
  int db_threads = 4;
  int64_t db_queue = 4096;
  // Password hashing has its own pool, so database work never waits behind
  // it: at most one thread per core, and a short queue (beyond it 503 at once).
  int hash_threads = 0;  // 0 = min(2, cores / processes), at least 1
  int64_t hash_queue = 16;
  int64_t hash_queue_wait_ms = 1000;  // a hash that waited longer is refused (503) instead
  bool access_log = true;
  std::string log_level = "info";

  static void Declare(config::ConfigSource& src);
  // `cores`: the cores this process may use (the one-argument form asks the
  // kernel for its CPU affinity; a parameter so tests can choose it).
  static core::Result<AppConfig> Load(const config::ConfigSource& src, int cores);
  static core::Result<AppConfig> Load(const config::ConfigSource& src);
};

}  // namespace shopd::app

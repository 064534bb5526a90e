// app: process-level settings (data dir, processes, pools, logging).
#pragma once

#include <cstdint>
#include <string>

#include "config/config_source.h"
#include "core/error.h"

namespace shopd::app {

struct AppConfig {
  std::string data_dir = "./data";
  int processes = 0;  // 0 = serve in this process; N = supervisor + N workers
  int db_threads = 4;
  int64_t db_queue = 4096;
  bool access_log = true;
  std::string log_level = "info";

  static void Declare(config::ConfigSource& src);
  static core::Result<AppConfig> Load(const config::ConfigSource& src);
};

}  // namespace shopd::app

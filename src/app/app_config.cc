#include "app/app_config.h"

namespace shopd::app {

void AppConfig::Declare(config::ConfigSource& src) {
  src.Declare({"data-dir", "./data", "directory of the embedded database and generated secrets"});
  src.Declare({"processes", "0",
               "0 = serve in this process; N = a supervisor forks N worker processes on the same port "
               "and restarts any that dies"});
  src.Declare({"db-threads", "4", "threads for blocking work (SQLite, password hashing)"});
  src.Declare({"db-queue", "4096", "blocking-work tasks allowed to wait; beyond that requests get 503"});
  src.Declare({"access-log", "true", "write a JSON access log line per request to stdout"});
  src.Declare({"log-level", "info", "debug, info, warn or error"});
}

core::Result<AppConfig> AppConfig::Load(const config::ConfigSource& src) {
  AppConfig c;
  config::ConfigErrors errs;
  int64_t v = 0;
  errs.Take(src.GetString("data-dir"), c.data_dir);
  if (c.data_dir.empty()) errs.Add("data-dir: must not be empty");
  errs.Take(src.GetInt("processes", 0, 256), v);
  c.processes = static_cast<int>(v);
  errs.Take(src.GetInt("db-threads", 1, 256), v);
  c.db_threads = static_cast<int>(v);
  errs.Take(src.GetInt("db-queue", 1, 1'000'000), c.db_queue);
  errs.Take(src.GetBool("access-log"), c.access_log);
  errs.Take(src.GetString("log-level"), c.log_level);
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error")
    errs.Add("log-level: expected debug, info, warn or error, got '" + c.log_level + "'");
  if (auto r = errs.Finish(); !r) return r.error();
  return c;
}

}  // namespace shopd::app

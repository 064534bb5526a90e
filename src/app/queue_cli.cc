#include "app/queue_cli.h"

#include <filesystem>
#include <iostream>

#include "core/clock.h"
#include "exec/worker_pool.h"
#include "queue/sqlite/sqlite_job_queue.h"
#include "storage/sqlite/sqlite_database.h"

namespace shopd::app {
namespace {

// Opens an existing data dir only: inspecting a typo must not create a new, empty database.
std::unique_ptr<storage::sqlite::SqliteDatabase> OpenExisting(const std::string& data_dir) {
  if (!std::filesystem::exists(data_dir + "/shopd.db")) {
    std::cerr << "shopd queue: no database at " << data_dir << "/shopd.db (use --data-dir)\n";
    return nullptr;
  }
  auto db = storage::sqlite::SqliteDatabase::Open({.data_dir = data_dir});
  if (!db) {
    std::cerr << "shopd queue: cannot open " << data_dir << ": " << db.error().message << " "
              << db.error().internal << "\n";
    return nullptr;
  }
  return std::move(*db);
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

int QueueStatsCommand(const std::string& data_dir) {
  auto db = OpenExisting(data_dir);
  if (!db) return 1;
  exec::WorkerPool pool(1, 4, "shopd-cli");
  queue::sqlite::SqliteJobQueue jobs(*db, pool, core::SystemClock::Instance());
  auto all = jobs.AllStatsSync();
  if (!all) {
    std::cerr << "shopd queue stats: " << all.error().message << " " << all.error().internal << "\n";
    return 1;
  }
  if (all->empty()) std::cout << "no queues yet\n";
  for (const auto& [name, s] : *all)
    std::cout << "queue=" << name << " ready=" << s.ready << " delayed=" << s.delayed << " in_flight=" << s.in_flight
              << " dead=" << s.dead << " completed=" << s.completed << "\n";
  return 0;
}

int QueueDeadLettersCommand(const std::string& data_dir, const std::string& queue_name, int64_t limit,
                            std::optional<int64_t> retry_id) {
  auto db = OpenExisting(data_dir);
  if (!db) return 1;
  exec::WorkerPool pool(1, 4, "shopd-cli");
  queue::sqlite::SqliteJobQueue jobs(*db, pool, core::SystemClock::Instance());
  if (retry_id) {
    auto r = jobs.RetryDeadSync(*retry_id);
    if (!r) {
      std::cerr << "shopd queue dead-letters: cannot retry " << *retry_id << ": " << r.error().message << "\n";
      return 1;
    }
    std::cout << "retried " << *retry_id << "\n";
    return 0;
  }
  auto dead = jobs.DeadLettersSync(queue_name, static_cast<size_t>(limit));
  if (!dead) {
    std::cerr << "shopd queue dead-letters: " << dead.error().message << " " << dead.error().internal << "\n";
    return 1;
  }
  if (dead->empty()) std::cout << "no dead letters in " << queue_name << "\n";
  for (const auto& j : *dead)
    std::cout << "id=" << j.id << " queue=" << j.queue << " attempts=" << j.attempts
              << " error=" << Quote(j.last_error) << " payload=" << Quote(j.payload) << "\n";
  return 0;
}

}  // namespace shopd::app

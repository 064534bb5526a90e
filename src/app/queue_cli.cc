#include "app/queue_cli.h"

#include <filesystem>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include "app/database_url.h"
#include "core/clock.h"
#include "exec/await_blocking.h"
#include "exec/io_thread.h"
#include "exec/worker_pool.h"
#include "queue/postgres/pg_job_queue.h"
#include "queue/sqlite/sqlite_job_queue.h"
#include "storage/postgres/pg_pool.h"
#include "storage/sqlite/sqlite_database.h"

namespace shopd::app {
namespace {

using Stats = std::vector<std::pair<std::string, queue::QueueStats>>;

// What the commands need of a queue, whichever database holds it.
class QueueInspector {
 public:
  virtual ~QueueInspector() = default;
  virtual core::Result<Stats> AllStats() = 0;
  virtual core::Result<std::vector<queue::DeadJob>> DeadLetters(const std::string& queue, size_t limit) = 0;
  virtual core::Result<void> RetryDead(queue::JobId id) = 0;
};

class SqliteInspector final : public QueueInspector {
 public:
  explicit SqliteInspector(std::unique_ptr<storage::sqlite::SqliteDatabase> db)
      : db_(std::move(db)), jobs_(*db_, pool_, core::SystemClock::Instance()) {}
  core::Result<Stats> AllStats() override { return jobs_.AllStatsSync(); }
  core::Result<std::vector<queue::DeadJob>> DeadLetters(const std::string& queue, size_t limit) override {
    return jobs_.DeadLettersSync(queue, limit);
  }
  core::Result<void> RetryDead(queue::JobId id) override { return jobs_.RetryDeadSync(id); }

 private:
  std::unique_ptr<storage::sqlite::SqliteDatabase> db_;
  exec::WorkerPool pool_{1, 4, "shopd-cli"};
  queue::sqlite::SqliteJobQueue jobs_;
};

// Members are destroyed in reverse: the queue, the pool, then its io thread.
class PostgresInspector final : public QueueInspector {
 public:
  explicit PostgresInspector(std::string url)
      : pool_(io_.executor(), {.conninfo = std::move(url), .max_connections = 1}),
        jobs_(pool_, core::SystemClock::Instance()) {}
  core::Result<Stats> AllStats() override {
    auto names = exec::AwaitBlocking(jobs_.QueueNames());
    if (!names) return names.error();
    Stats all;
    for (std::string& name : *names) {
      auto stats = exec::AwaitBlocking(jobs_.Stats(name));
      if (!stats) return stats.error();
      all.emplace_back(std::move(name), *stats);
    }
    return all;
  }
  core::Result<std::vector<queue::DeadJob>> DeadLetters(const std::string& queue, size_t limit) override {
    return exec::AwaitBlocking(jobs_.DeadLetters(queue, limit));
  }
  core::Result<void> RetryDead(queue::JobId id) override { return exec::AwaitBlocking(jobs_.RetryDead(id)); }

 private:
  exec::IoThread io_{"shopd-cli-pg"};
  storage::postgres::PgPool pool_;
  queue::postgres::PgJobQueue jobs_;
};

// Opens an existing database only: inspecting a typo must not create a new, empty one.
std::unique_ptr<QueueInspector> Open(const QueueTarget& target) {
  auto url = DatabaseUrlOrFile(target.database_url);
  auto where = url ? ParseDatabaseUrl(*url, target.data_dir) : core::Result<DatabaseTarget>(url.error());
  if (!where) {
    std::cerr << "shopd queue: " << where.error().message << "\n";
    return nullptr;
  }
  if (where->postgres()) return std::make_unique<PostgresInspector>(where->url);
  const std::string file = where->sqlite_dir + "/" + where->sqlite_file;
  if (!std::filesystem::exists(file)) {
    std::cerr << "shopd queue: no database at " << file << " (use --data-dir or --database-url)\n";
    return nullptr;
  }
  auto db = storage::sqlite::SqliteDatabase::Open({.data_dir = where->sqlite_dir, .file_name = where->sqlite_file});
  if (!db) {
    std::cerr << "shopd queue: cannot open " << file << ": " << db.error().message << " " << db.error().internal
              << "\n";
    return nullptr;
  }
  return std::make_unique<SqliteInspector>(std::move(*db));
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

int QueueStatsCommand(const QueueTarget& target) {
  auto jobs = Open(target);
  if (!jobs) return 1;
  auto all = jobs->AllStats();
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

int QueueDeadLettersCommand(const QueueTarget& target, const std::string& queue_name, int64_t limit,
                            std::optional<int64_t> retry_id) {
  auto jobs = Open(target);
  if (!jobs) return 1;
  if (retry_id) {
    auto r = jobs->RetryDead(*retry_id);
    if (!r) {
      std::cerr << "shopd queue dead-letters: cannot retry " << *retry_id << ": " << r.error().message << "\n";
      return 1;
    }
    std::cout << "retried " << *retry_id << "\n";
    return 0;
  }
  auto dead = jobs->DeadLetters(queue_name, static_cast<size_t>(limit));
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

// events/sqlite: EventLog over the embedded SQLite database (tables `events`
// and `consumer_offsets`, migration 2). Depends on events, exec and
// storage/sqlite.
//
// Every coroutine runs its blocking SQLite work on the worker pool; the *Sync
// forms are the same operations for the CLI, start-up code and tests. An
// append is one BEGIN IMMEDIATE transaction, so offsets stay dense and unique
// across every process on the file. Events are kept until TrimSync removes old
// ones.
//
//   SqliteEventLog log(*db, pool, core::SystemClock::Instance());
//   auto offset = co_await log.Append("order.created", order_id, payload);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "events/event_log.h"
#include "exec/worker_pool.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_writer.h"

namespace shopd::events::sqlite {

struct SqliteEventLogOptions {
  size_t max_read_batch = 1000;      // Read never returns more
  size_t max_append_batch = 10'000;  // larger AppendBatch calls are kInvalidArgument
  size_t max_payload_bytes = 1 << 20;
};

class SqliteEventLog final : public EventLog {
 public:
  // db, pool and clock must outlive the log.
  SqliteEventLog(storage::sqlite::SqliteDatabase& db, exec::WorkerPool& pool, const core::Clock& clock,
                 SqliteEventLogOptions options = {});

  // EventLog
  Async<int64_t> Append(std::string topic, std::string key, std::string payload) override;
  Async<std::vector<int64_t>> AppendBatch(std::vector<EventInput> events) override;
  Async<std::vector<Event>> Read(std::string topic, std::string group, size_t max_events) override;
  Async<std::vector<Event>> ReadAfter(std::string topic, int64_t after_offset, size_t max_events) override;
  Async<void> Commit(std::string topic, std::string group, int64_t offset) override;
  Async<int64_t> EndOffset(std::string topic) override;
  Async<int64_t> CommittedOffset(std::string topic, std::string group) override;

  // Blocking forms: worker-pool or plain threads only.
  core::Result<std::vector<int64_t>> AppendBatchSync(const std::vector<EventInput>& events);
  core::Result<std::vector<Event>> ReadSync(const std::string& topic, const std::string& group, size_t max_events);
  core::Result<std::vector<Event>> ReadAfterSync(const std::string& topic, int64_t after_offset, size_t max_events);
  core::Result<void> CommitSync(const std::string& topic, const std::string& group, int64_t offset);
  core::Result<int64_t> EndOffsetSync(const std::string& topic);
  core::Result<int64_t> CommittedOffsetSync(const std::string& topic, const std::string& group);
  // Deletes up to max_rows events created before `created_before_ms`, oldest
  // first, keeping every topic's last event so offsets never start over.
  // Returns how many were deleted. Readers behind the trimmed range skip it.
  core::Result<size_t> TrimSync(int64_t created_before_ms, size_t max_rows);

  // Checks what AppendEvents would reject.
  core::Result<void> Validate(const std::vector<EventInput>& events) const;

  // Appends and offset commits join the writer's group commits instead of
  // taking the write lock on the pool (where they would wait out the
  // writer's transactions in SQLite's busy handler). `writer` must be on
  // this log's database and outlive it.
  void UseWriter(storage::sqlite::SqliteWriter* writer) { writer_ = writer; }
  storage::sqlite::SqliteWriter* writer() const { return writer_; }

  storage::sqlite::SqliteDatabase& database() { return db_; }
  // Wall-clock milliseconds by this log's clock.
  int64_t NowMs() const;

 private:
  storage::sqlite::SqliteDatabase& db_;
  exec::WorkerPool& pool_;
  const core::Clock& clock_;
  const SqliteEventLogOptions options_;
  storage::sqlite::SqliteWriter* writer_ = nullptr;
};

// Appends `events` on `conn`, which must be inside the caller's open
// transaction (the outbox relay moves rows with it). Events without a
// created_ms get `now_ms`. Returns their offsets in input order.
core::Result<std::vector<int64_t>> AppendEvents(storage::sqlite::Connection& conn,
                                                const std::vector<EventInput>& events, int64_t now_ms);

}  // namespace shopd::events::sqlite

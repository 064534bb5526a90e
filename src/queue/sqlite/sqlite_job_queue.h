// queue/sqlite: JobQueue over the embedded SQLite database (table `jobs`,
// migration 2). Depends on queue, exec and storage/sqlite.
//
// Every coroutine runs its blocking SQLite work on the worker pool; the *Sync
// forms are the same operations for the CLI (`shopd queue stats`,
// `shopd queue dead-letters`) and start-up code, never for a reactor thread.
// A Lease is one BEGIN IMMEDIATE transaction, so concurrent leasers, in this
// process or in others on the same file, never get the same job.
// Completed jobs are deleted; `job_counters` keeps the per-queue count.
//
//   SqliteJobQueue queue(*db, pool, core::SystemClock::Instance());
//   auto id = co_await queue.Enqueue({.queue = "mail", .payload = "{}"});
//   // or, atomically with the caller's own writes:
//   auto tx = Transaction::BeginImmediate(conn);  ...
//   auto id = queue.EnqueueInTransaction(conn, {.queue = "mail", .payload = "{}"});
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "exec/worker_pool.h"
#include "queue/job_queue.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_writer.h"

namespace shopd::queue::sqlite {

class SqliteJobQueue final : public JobQueue {
 public:
  // db, pool and clock must outlive the queue.
  SqliteJobQueue(storage::sqlite::SqliteDatabase& db, exec::WorkerPool& pool, const core::Clock& clock,
                 JobQueueOptions options = {});

  // JobQueue
  Async<JobId> Enqueue(EnqueueRequest request) override;
  Async<std::vector<JobId>> EnqueueBatch(std::vector<EnqueueRequest> requests) override;
  Async<std::vector<LeasedJob>> Lease(std::string queue, size_t max_jobs, int64_t lease_ms) override;
  Async<void> Complete(JobId id, std::string lease_token) override;
  Async<void> Fail(JobId id, std::string lease_token, std::string error) override;
  Async<void> ExtendLease(JobId id, std::string lease_token, int64_t lease_ms) override;
  Async<std::optional<int64_t>> NextDueInMs(std::string queue) override;
  Async<QueueStats> Stats(std::string queue) override;
  Async<std::vector<DeadJob>> DeadLetters(std::string queue, size_t limit) override;
  Async<void> RetryDead(JobId id) override;

  // Blocking forms (CLI, start-up, tests): worker-pool or plain threads only.
  core::Result<JobId> EnqueueSync(const EnqueueRequest& request);
  core::Result<std::vector<JobId>> EnqueueBatchSync(const std::vector<EnqueueRequest>& requests);
  core::Result<std::vector<LeasedJob>> LeaseSync(const std::string& queue, size_t max_jobs, int64_t lease_ms);
  core::Result<void> CompleteSync(JobId id, const std::string& lease_token);
  core::Result<void> FailSync(JobId id, const std::string& lease_token, const std::string& error);
  core::Result<void> ExtendLeaseSync(JobId id, const std::string& lease_token, int64_t lease_ms);
  core::Result<std::optional<int64_t>> NextDueInMsSync(const std::string& queue);
  core::Result<QueueStats> StatsSync(const std::string& queue);
  // Every queue that has or had jobs, by name.
  core::Result<std::vector<std::pair<std::string, QueueStats>>> AllStatsSync();
  core::Result<std::vector<DeadJob>> DeadLettersSync(const std::string& queue, size_t limit);
  core::Result<void> RetryDeadSync(JobId id);

  // Enqueues on `conn` inside the caller's open transaction, so the job
  // exists exactly when the caller's other writes commit. kInternal when no
  // transaction is open.
  core::Result<JobId> EnqueueInTransaction(storage::sqlite::Connection& conn, const EnqueueRequest& request);

  // Wall-clock milliseconds by this queue's clock.
  int64_t NowMs() const;

  // Routes the state-changing calls (Enqueue*, Lease, Complete, Fail) through
  // a group-committing writer instead of one transaction each on the pool.
  void UseWriter(storage::sqlite::SqliteWriter* writer) { writer_ = writer; }

 private:
  core::Result<JobId> Insert(storage::sqlite::Connection& conn, const EnqueueRequest& request, int64_t now_ms);

  storage::sqlite::SqliteDatabase& db_;
  exec::WorkerPool& pool_;
  storage::sqlite::SqliteWriter* writer_ = nullptr;
  const core::Clock& clock_;
  const JobQueueOptions options_;
};

}  // namespace shopd::queue::sqlite

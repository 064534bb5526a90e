// queue/postgres: JobQueue on PostgreSQL (the scale-out topology, tables
// `jobs` and `job_counters`, storage/postgres migration 3). Depends on queue
// and storage/postgres.
//
// Same behaviour as queue/sqlite's, checked by the same contract suite; each
// call is a coroutine on the pool, with the pool's deadlines, never blocking a
// thread. Lease is one statement that claims with FOR UPDATE SKIP LOCKED, so
// leasers in any number of processes neither wait for each other nor get the
// same job. Time is this queue's clock, passed into every statement (never the
// server's now()). Completed jobs are deleted; `job_counters` keeps the count.
//
// Text columns hold what PostgreSQL stores as text: queue names, payloads and
// dedupe keys must be valid UTF-8 without NUL bytes (else kInvalidArgument),
// and Fail stores its error text with invalid bytes replaced.
//
//   PgJobQueue queue(pool, core::SystemClock::Instance());
//   auto id = co_await queue.Enqueue({.queue = "mail", .payload = "{}"});
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "queue/job_queue.h"
#include "storage/postgres/pg_pool.h"

namespace shopd::queue::postgres {

class PgJobQueue final : public JobQueue {
 public:
  // `pool` and `clock` must outlive the queue; the pool's schema must be
  // migrated (storage::postgres::ApplyMigrations).
  PgJobQueue(storage::postgres::PgPool& pool, const core::Clock& clock, JobQueueOptions options = {});

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

  // Every queue that holds a job or has completed one, in name order (for
  // `shopd queue stats`).
  Async<std::vector<std::string>> QueueNames();

  // Wall-clock milliseconds by this queue's clock.
  int64_t NowMs() const;

 private:
  // The shared rules (queue/detail/backend_rules.h) plus PostgreSQL's: text only.
  core::Result<void> Validate(const EnqueueRequest& request) const;

  storage::postgres::PgPool& pool_;
  const core::Clock& clock_;
  const JobQueueOptions options_;
};

}  // namespace shopd::queue::postgres

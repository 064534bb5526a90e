// queue: the durable job queue interface. Depends on core.
//
// At-least-once delivery with leases: Lease hands a job to one worker until
// its lease runs out; a job whose worker dies (no Complete, Fail or
// ExtendLease in time) is leased again, with the next attempt number. Failed
// attempts are retried after an exponential backoff with full jitter, and a
// job that used up its attempts moves to the dead-letter state, from which
// RetryDead brings it back. Handlers must therefore be idempotent.
//
// Configuration picks the backend (embedded: queue/sqlite/, scale-out: Redis).
// Every call is a coroutine; backends never block the caller's thread. Time
// comes from an injected core::Clock, so tests move it by hand.
//
//   auto id = co_await queue.Enqueue({.queue = "orders", .payload = R"({"id":"o1"})"});
//   auto jobs = co_await queue.Lease("orders", /*max_jobs=*/8, /*lease_ms=*/30'000);
//   for (const LeasedJob& job : *jobs) {
//     if (Process(job)) co_await queue.Complete(job.id, job.lease_token);
//     else co_await queue.Fail(job.id, job.lease_token, "payment provider timeout");
//   }
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "queue/fwd.h"

namespace shopd::queue {

template <class T>
using Async = boost::asio::awaitable<core::Result<T>>;

struct EnqueueRequest {
  std::string queue{};    // non-empty
  std::string payload{};  // opaque to the queue (JSON by convention)
  int64_t delay_ms = 0;  // first delivery no earlier than now + delay_ms
  int max_attempts = 0;  // 0: the queue's default (JobQueueOptions::default_max_attempts)
  // Enqueues once per (queue, key) while a job with that key still exists
  // (waiting, in flight or dead); a duplicate returns the existing job's id.
  // Completed jobs are removed, after which the key may be used again.
  std::optional<std::string> dedupe_key{};
};

struct LeasedJob {
  JobId id = 0;
  std::string queue;
  std::string payload;
  int attempt = 0;          // 1 on first delivery
  std::string lease_token;  // proves the lease in Complete/Fail/ExtendLease
};

struct QueueStats {
  int64_t ready = 0;      // due now, waiting for a worker
  int64_t delayed = 0;    // scheduled later (delayed or waiting to retry)
  int64_t in_flight = 0;  // leased
  int64_t dead = 0;       // dead letters
  int64_t completed = 0;  // completed since the queue was created
};

struct DeadJob {
  JobId id = 0;
  std::string queue;
  std::string payload;
  int attempts = 0;
  std::string last_error;
  int64_t created_ms = 0;  // unix ms
  int64_t dead_ms = 0;     // unix ms when it became a dead letter
};

// Backoff before the next attempt after a failure: exponential from base_ms,
// at most cap_ms, with "full jitter" (a uniform draw in [0, that delay]) so
// that jobs failing together do not retry in lockstep.
struct RetryPolicy {
  int64_t base_ms = 200;
  int64_t cap_ms = 60'000;
  bool jitter = true;  // false: exactly the exponential delay (deterministic tests)
};

// The delay after the `failed_attempt`-th failed attempt (1-based):
// min(cap, base * 2^(failed_attempt - 1)), scaled by `unit` in [0, 1] when the
// policy jitters. `unit` is a parameter so that tests can pin the draw.
int64_t BackoffMs(const RetryPolicy& policy, int failed_attempt, double unit);
// Same, drawing `unit` from a per-thread PRNG.
int64_t BackoffMs(const RetryPolicy& policy, int failed_attempt);

// Settings every backend honours.
struct JobQueueOptions {
  int default_max_attempts = 5;
  RetryPolicy retry;
  size_t max_lease_batch = 256;          // Lease never returns more
  size_t max_dead_letters_batch = 1000;  // DeadLetters never returns more
  size_t max_payload_bytes = 1 << 20;    // larger payloads are kInvalidArgument
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;

  // Returns the new job's id (or, with a dedupe_key already present, the
  // existing job's id). kInvalidArgument for an empty queue name, a negative
  // delay or max_attempts, or an oversize payload.
  virtual Async<JobId> Enqueue(EnqueueRequest request) = 0;
  // All or nothing, ids in request order.
  virtual Async<std::vector<JobId>> EnqueueBatch(std::vector<EnqueueRequest> requests) = 0;

  // Leases up to max_jobs (capped by max_lease_batch) jobs that are due: ready
  // ones whose run time has come, oldest first, and leased ones whose lease ran
  // out (redelivered with the next attempt number; one that already used its
  // last attempt becomes a dead letter instead). Each gets a fresh lease token
  // valid for lease_ms. An empty vector when nothing is due.
  virtual Async<std::vector<LeasedJob>> Lease(std::string queue, size_t max_jobs, int64_t lease_ms) = 0;

  // Completes (removes) the job. The token must be the current lease's: after
  // the job was leased again, the old token is kConflict, so a slow worker
  // cannot complete a redelivered job. kNotFound when the job is gone. A token
  // whose lease ran out is still accepted while nobody else leased the job.
  virtual Async<void> Complete(JobId id, std::string lease_token) = 0;
  // Schedules the next attempt after BackoffMs, or makes the job a dead letter
  // when it used its last attempt. Same token rules as Complete.
  virtual Async<void> Fail(JobId id, std::string lease_token, std::string error) = 0;
  // Moves the lease's end to now + lease_ms. Same token rules as Complete.
  virtual Async<void> ExtendLease(JobId id, std::string lease_token, int64_t lease_ms) = 0;

  // How long until Lease would find a job in `queue` that is not due yet: the
  // earliest run time of a ready job (a delayed job, a retry in its backoff)
  // or lease end of a leased one, from now; 0 when one is due already;
  // nullopt when the queue is empty. Lets an idle worker sleep until then
  // instead of polling.
  virtual Async<std::optional<int64_t>> NextDueInMs(std::string queue) = 0;

  virtual Async<QueueStats> Stats(std::string queue) = 0;
  // Oldest first, at most `limit` (capped by max_dead_letters_batch).
  virtual Async<std::vector<DeadJob>> DeadLetters(std::string queue, size_t limit) = 0;
  // Makes a dead letter ready now with its attempts reset. kNotFound when
  // there is no dead job with this id.
  virtual Async<void> RetryDead(JobId id) = 0;
};

}  // namespace shopd::queue

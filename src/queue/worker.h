// queue: JobWorker, which runs a handler for the jobs of one queue. Depends on
// core, obs and the JobQueue interface.
//
// At most `concurrency` handlers run at once: the worker leases only as many
// jobs as it has free slots. It polls Lease, backing off from idle_min_ms to
// idle_max_ms while the queue is empty, but never sleeping past the time the
// queue says its next job falls due (JobQueue::NextDueInMs); Notify() (after
// an enqueue) wakes it at once. With notifications for every enqueue, a long
// idle_max_ms is only a safety net. A handler's success completes the job; an error or an exception
// fails it, which schedules a retry or dead-letters it (JobQueue::Fail).
// While handlers run, the worker extends their leases every lease_ms / 3, so
// a slow handler (a slow payment provider) is not delivered a second time;
// only a worker that stops extending (it died, or the database is down for
// longer than a lease) has its jobs delivered again after lease_ms.
//
//   JobWorker worker(queue, {.queue = "orders", .concurrency = 8},
//                    [&](const LeasedJob& job) -> Async<void> { co_return co_await Handle(job); });
//   worker.Start(io.get_executor());
//   ... co_await queue.Enqueue(...); worker.Notify();
//   co_await worker.Stop();   // stops leasing, waits for the handlers in flight
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "queue/job_queue.h"

namespace shopd::queue {

struct JobWorkerOptions {
  std::string queue{};
  size_t concurrency = 4;          // handlers in flight at most (>= 1)
  int64_t lease_ms = 30'000;       // redelivery after this long without the worker extending it
  int64_t idle_min_ms = 5;         // empty-queue poll interval, doubling from this...
  int64_t idle_max_ms = 50;        // ...up to this
  int64_t error_backoff_ms = 200;  // wait after a failed Lease call (database busy, pool full)
  size_t max_error_bytes = 2048;   // error text kept per failed attempt
};

class JobWorker {
 public:
  using Handler = std::function<boost::asio::awaitable<core::Result<void>>(const LeasedJob&)>;

  // `queue` must outlive the worker's Stop(). The worker owns timers on the
  // executor it is started on: destroy it before that execution context.
  JobWorker(JobQueue& queue, JobWorkerOptions options, Handler handler);
  // Asks a running worker to stop; await Stop() first to also wait for it.
  ~JobWorker();
  JobWorker(const JobWorker&) = delete;
  JobWorker& operator=(const JobWorker&) = delete;

  // Starts polling on `executor` (a strand of it serialises the worker's own
  // state; handlers run on the executor itself). Call once.
  void Start(boost::asio::any_io_executor executor);
  // Wakes an idle worker at once. Any thread, after Start.
  void Notify();
  // Stops leasing and completes when every handler in flight has finished and
  // its job was completed or failed. Idempotent; any executor.
  boost::asio::awaitable<void> Stop();

  // Counters, readable from any thread.
  uint64_t completed() const;  // jobs completed
  uint64_t failed() const;     // attempts failed (retried or dead-lettered)
  uint64_t lease_extensions() const;  // leases of running handlers extended
  size_t in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace shopd::queue

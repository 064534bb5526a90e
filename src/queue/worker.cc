#include "queue/worker.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "obs/log.h"

namespace shopd::queue {
namespace {

namespace asio = boost::asio;

// Longest wait for a free slot; a finishing handler wakes the loop earlier.
constexpr int64_t kSlotWaitMs = 1000;
constexpr int64_t kAskNextDueAboveMs = 50;

std::string ErrorText(const core::Error& e, size_t max_bytes) {
  std::string text = e.message;
  if (!e.internal.empty()) text += text.empty() ? e.internal : ": " + e.internal;
  if (text.empty()) text = "failed";
  if (text.size() > max_bytes) text.resize(max_bytes);
  return text;
}

}  // namespace

// Everything but the counters is touched on `strand` only. The loop, every
// handler and every posted wake-up hold a shared_ptr, so the state outlives
// them even when the JobWorker object is gone.
struct JobWorker::Impl : std::enable_shared_from_this<Impl> {
  Impl(JobQueue& q, JobWorkerOptions o, Handler h) : queue(q), options(std::move(o)), handler(std::move(h)) {
    options.concurrency = std::max<size_t>(options.concurrency, 1);
    options.idle_min_ms = std::max<int64_t>(options.idle_min_ms, 1);
    options.idle_max_ms = std::max(options.idle_max_ms, options.idle_min_ms);
  }

  // Ends the current Sleep early.
  void Kick() {
    kicked = true;
    wake->cancel();
  }

  // Returns after `ms`, on Kick (when `kickable`) or on stop.
  asio::awaitable<void> Sleep(int64_t ms, bool kickable = true) {
    if (stopping || (kickable && kicked)) {
      kicked = false;
      co_return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!stopping && std::chrono::steady_clock::now() < deadline) {
      wake->expires_at(deadline);
      co_await wake->async_wait(asio::as_tuple(asio::use_awaitable));
      if (kickable && kicked) break;
    }
    if (kickable) kicked = false;
  }

  static asio::awaitable<void> Loop(std::shared_ptr<Impl> self);
  static asio::awaitable<void> KeepLeases(std::shared_ptr<Impl> self);
  static asio::awaitable<void> RunOne(std::shared_ptr<Impl> self, LeasedJob job);
  static asio::awaitable<void> StopOnStrand(std::shared_ptr<Impl> self);

  JobQueue& queue;
  JobWorkerOptions options;
  const Handler handler;

  asio::any_io_executor executor;
  std::optional<asio::strand<asio::any_io_executor>> strand;
  std::optional<asio::steady_timer> wake;  // the loop's sleeps
  std::optional<asio::steady_timer> done;  // Stop() waiters
  std::optional<asio::steady_timer> heartbeat;  // KeepLeases' sleeps

  // The jobs whose handlers run, by id: their lease tokens, for KeepLeases.
  std::map<JobId, std::string> running;
  bool keeping_leases = false;  // KeepLeases has not returned yet

  bool kicked = false;
  bool stopping = false;
  bool finished = true;  // false from Start until the loop and its handlers end
  size_t in_flight = 0;
  std::atomic<bool> stopped{false};  // `finished`, for other threads

  std::atomic<uint64_t> completed_count{0};
  std::atomic<uint64_t> failed_count{0};
  std::atomic<uint64_t> extension_count{0};
  std::atomic<size_t> in_flight_count{0};
};

asio::awaitable<void> JobWorker::Impl::Loop(std::shared_ptr<Impl> self) {
  const JobWorkerOptions& o = self->options;
  int64_t idle_ms = o.idle_min_ms;
  while (!self->stopping) {
    const size_t free_slots = o.concurrency - self->in_flight;
    if (free_slots == 0) {
      co_await self->Sleep(kSlotWaitMs);
      continue;
    }
    core::Result<std::vector<LeasedJob>> leased = co_await self->queue.Lease(o.queue, free_slots, o.lease_ms);
    if (!leased) {
      obs::LogWarn("job_lease_failed", {{"queue", o.queue},
                                        {"error", leased.error().message},
                                        {"detail", leased.error().internal}});
      co_await self->Sleep(o.error_backoff_ms, /*kickable=*/false);
      continue;
    }
    if (leased->empty()) {
      int64_t sleep_ms = idle_ms;
      idle_ms = std::min(idle_ms * 2, o.idle_max_ms);
      // Before a long sleep: work that no write announces (a delayed job, a
      // retry in its backoff, a lease running out) is due at a known time, so
      // sleep until then at most. Short polls skip the question.
      if (sleep_ms > kAskNextDueAboveMs) {
        auto due = co_await self->queue.NextDueInMs(o.queue);
        if (due && due->has_value() && **due > 0) sleep_ms = std::min(sleep_ms, **due);
      }
      co_await self->Sleep(sleep_ms);
      continue;
    }
    idle_ms = o.idle_min_ms;
    for (LeasedJob& job : *leased) {
      ++self->in_flight;
      ++self->in_flight_count;
      self->running[job.id] = job.lease_token;
      // The slot is released in the completion, so even a handler coroutine
      // that dies of an unexpected exception gives it back.
      auto release = [self, id = job.id](std::exception_ptr) {
        asio::post(*self->strand, [self, id] {
          self->running.erase(id);
          --self->in_flight;
          --self->in_flight_count;
          self->Kick();
        });
      };
      asio::co_spawn(self->executor, RunOne(self, std::move(job)), std::move(release));
    }
  }
  // Sleep returns at once while stopping, so the drain waits on the timer
  // directly; each finishing handler's Kick cancels it.
  while (self->in_flight > 0) {
    self->wake->expires_after(std::chrono::milliseconds(kSlotWaitMs));
    co_await self->wake->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  // No handler is left whose lease needs keeping; the queue may go away
  // after Stop(), so KeepLeases must have returned first.
  while (self->keeping_leases) {
    self->heartbeat->cancel();
    self->wake->expires_after(std::chrono::milliseconds(kSlotWaitMs));
    co_await self->wake->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  self->finished = true;
  self->stopped = true;
  self->done->cancel();
}

// Every lease_ms / 3 (on the strand), extends the lease of every running
// handler's job, one at a time: a few writes per interval, whatever the
// number of jobs finishing in between. A job that finished meanwhile, or
// whose lease was lost to another worker, just fails its extension.
asio::awaitable<void> JobWorker::Impl::KeepLeases(std::shared_ptr<Impl> self) {
  const auto every = std::chrono::milliseconds(std::max<int64_t>(self->options.lease_ms / 3, 1));
  while (!self->stopping || self->in_flight > 0) {
    self->heartbeat->expires_after(every);
    co_await self->heartbeat->async_wait(asio::as_tuple(asio::use_awaitable));
    if (self->stopping && self->in_flight == 0) break;
    const std::vector<std::pair<JobId, std::string>> jobs(self->running.begin(), self->running.end());
    for (const auto& [id, token] : jobs) {
      if (!self->running.contains(id)) continue;  // finished while we waited on another
      core::Result<void> extended = co_await self->queue.ExtendLease(id, token, self->options.lease_ms);
      if (extended) {
        ++self->extension_count;
      } else if (self->running.contains(id)) {
        obs::LogWarn("job_lease_extend_failed", {{"queue", self->options.queue},
                                                 {"job_id", id},
                                                 {"error", extended.error().message},
                                                 {"detail", extended.error().internal}});
      }
    }
  }
  self->keeping_leases = false;
  self->Kick();  // a draining Loop waits for this
}

asio::awaitable<void> JobWorker::Impl::RunOne(std::shared_ptr<Impl> self, LeasedJob job) {
  core::Result<void> outcome = core::Error::Make(core::Errc::kInternal, "handler did not run");
  try {
    outcome = co_await self->handler(job);
  } catch (const std::exception& e) {
    outcome = core::Error::Make(core::Errc::kInternal, "handler threw", e.what());
  } catch (...) {
    outcome = core::Error::Make(core::Errc::kInternal, "handler threw", "unknown exception");
  }

  if (outcome) {
    core::Result<void> done = co_await self->queue.Complete(job.id, job.lease_token);
    if (done) {
      ++self->completed_count;
    } else {
      // Usually a lease that ran out and was taken over: the job runs again.
      obs::LogWarn("job_complete_failed", {{"queue", job.queue},
                                           {"job_id", job.id},
                                           {"error", done.error().message},
                                           {"detail", done.error().internal}});
    }
    co_return;
  }

  ++self->failed_count;
  std::string text = ErrorText(outcome.error(), self->options.max_error_bytes);
  obs::LogDebug("job_attempt_failed",
                {{"queue", job.queue}, {"job_id", job.id}, {"attempt", job.attempt}, {"error", text}});
  core::Result<void> failed = co_await self->queue.Fail(job.id, job.lease_token, std::move(text));
  if (!failed) {
    obs::LogWarn("job_fail_failed", {{"queue", job.queue},
                                     {"job_id", job.id},
                                     {"error", failed.error().message},
                                     {"detail", failed.error().internal}});
  }
}

asio::awaitable<void> JobWorker::Impl::StopOnStrand(std::shared_ptr<Impl> self) {
  self->stopping = true;
  self->Kick();
  while (!self->finished) co_await self->done->async_wait(asio::as_tuple(asio::use_awaitable));
}

JobWorker::JobWorker(JobQueue& queue, JobWorkerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(queue, std::move(options), std::move(handler))) {}

JobWorker::~JobWorker() {
  if (!impl_->strand || impl_->stopped) return;
  asio::post(*impl_->strand, [self = impl_] {
    self->stopping = true;
    self->Kick();
  });
}

void JobWorker::Start(asio::any_io_executor executor) {
  Impl& s = *impl_;
  if (s.strand) return;
  s.executor = executor;
  s.strand.emplace(asio::make_strand(executor));
  s.wake.emplace(*s.strand);
  s.done.emplace(*s.strand);
  s.done->expires_at(asio::steady_timer::time_point::max());
  s.heartbeat.emplace(*s.strand);
  s.finished = false;
  s.keeping_leases = true;
  asio::co_spawn(*s.strand, Impl::KeepLeases(impl_), [self = impl_](std::exception_ptr e) {
    self->keeping_leases = false;
    if (e) obs::LogError("job_lease_keeper_crashed", {{"queue", self->options.queue}});
  });
  // The completion runs on the strand. Normally the loop has finished by
  // then; after an unexpected exception it has not, and Stop() must not hang.
  asio::co_spawn(*s.strand, Impl::Loop(impl_), [self = impl_](std::exception_ptr e) {
    if (!e) return;
    obs::LogError("job_worker_crashed", {{"queue", self->options.queue}});
    self->stopping = true;  // KeepLeases ends at its next wake-up
    self->heartbeat->cancel();
    self->finished = true;
    self->stopped = true;
    self->done->cancel();
  });
}

void JobWorker::Notify() {
  if (!impl_->strand) return;
  asio::post(*impl_->strand, [self = impl_] { self->Kick(); });
}

asio::awaitable<void> JobWorker::Stop() {
  std::shared_ptr<Impl> self = impl_;
  if (!self->strand) co_return;
  co_await asio::co_spawn(*self->strand, Impl::StopOnStrand(self), asio::use_awaitable);
}

uint64_t JobWorker::completed() const { return impl_->completed_count.load(); }
uint64_t JobWorker::failed() const { return impl_->failed_count.load(); }
uint64_t JobWorker::lease_extensions() const { return impl_->extension_count.load(); }
size_t JobWorker::in_flight() const { return impl_->in_flight_count.load(); }

}  // namespace shopd::queue

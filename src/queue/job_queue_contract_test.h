// queue: the JobQueue contract, one TEST_P suite run against every backend,
// plus the JobWorker's behaviour over it. Depends on queue and GoogleTest.
//
// The cases use the JobQueue interface only and move time with a ManualClock,
// never by sleeping. A backend's test file includes this header once (it
// defines tests) and instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, JobQueueContract,
//       ::testing::Values(JobQueueBackend{"Sqlite", MakeSqliteHarness}), JobQueueBackendName);
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/testing/async_test_util.h"
#include "queue/job_queue.h"
#include "queue/worker.h"

namespace shopd::queue::contract {

// Owns one fresh, empty queue and whatever it needs (files, pools, servers),
// released in the destructor.
class JobQueueHarness {
 public:
  virtual ~JobQueueHarness() = default;
  virtual JobQueue& queue() = 0;
  // Replaces queue() with a new instance over the same storage, as a process
  // restart would.
  virtual void Restart() = 0;
};

struct JobQueueBackend {
  std::string name;  // test-name suffix: letters and digits only
  std::function<std::unique_ptr<JobQueueHarness>(core::ManualClock&, const JobQueueOptions&)> make;

  friend void PrintTo(const JobQueueBackend& b, std::ostream* os) { *os << b.name; }
};

inline std::string JobQueueBackendName(const ::testing::TestParamInfo<JobQueueBackend>& info) {
  return info.param.name;
}

// An io_context on its own threads, for JobWorker tests; joined on destruction.
class IoThreads {
 public:
  explicit IoThreads(int threads = 1) : guard_(boost::asio::make_work_guard(io_)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThreads() {
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

// Starts a worker on IoThreads and stops it (bounded) when a test returns
// early, before the worker itself is destroyed: declare it after the worker.
class RunningWorker {
 public:
  RunningWorker(IoThreads& io, JobWorker& worker) : io_(io), worker_(worker) { worker.Start(io.io().get_executor()); }
  ~RunningWorker() {
    if (!stopped_) Stop();
  }
  // Stops the worker and waits up to `timeout` for its handlers.
  bool Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    stopped_ = true;
    auto done = boost::asio::co_spawn(io_.io(), worker_.Stop(), boost::asio::use_future);
    return done.wait_for(timeout) == std::future_status::ready;
  }

 private:
  IoThreads& io_;
  JobWorker& worker_;
  bool stopped_ = false;
};

// Waits (really) for a condition that other threads make true, bounded.
inline bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

#define SHOPD_QUEUE_EXPECT_ERRC(result, errc)                  \
  do {                                                         \
    const auto& r_ = (result);                                 \
    ASSERT_FALSE(r_.has_value()) << "expected an error";       \
    EXPECT_EQ(r_.error().code, (errc)) << r_.error().internal; \
  } while (0)

class JobQueueContract : public ::testing::TestWithParam<JobQueueBackend> {
 protected:
  static constexpr int64_t kLeaseMs = 30'000;
  static constexpr int64_t kDayMs = 86'400'000;  // the longest lease allowed

  void SetUp() override {
    // Deterministic backoff: 1 s, 2 s, 4 s, ... capped at 8 s.
    options_.default_max_attempts = 3;
    options_.retry = RetryPolicy{.base_ms = 1000, .cap_ms = 8000, .jitter = false};
    Rebuild();
  }
  // The backend (and its threads) go first: they may still be finishing a
  // post to the io_contexts below when a test's last completion has run.
  void TearDown() override { harness_.reset(); }

  // Drives one awaitable to completion on this thread.
  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(await_io_, std::move(aw));
  }
  // Background threads for JobWorker tests, alive until after TearDown.
  IoThreads& Rig(int threads) {
    rig_ = std::make_unique<IoThreads>(threads);
    return *rig_;
  }

  void Rebuild() {
    harness_.reset();
    harness_ = GetParam().make(clock_, options_);
    ASSERT_NE(harness_, nullptr);
  }

  JobQueue& q() { return harness_->queue(); }

  JobId Enqueue(std::string payload, std::string queue = "q", int64_t delay_ms = 0, int max_attempts = 0) {
    auto id = Await(q().Enqueue(EnqueueRequest{.queue = std::move(queue),
                                               .payload = std::move(payload),
                                               .delay_ms = delay_ms,
                                               .max_attempts = max_attempts}));
    if (!id) throw std::runtime_error("enqueue failed: " + id.error().internal);
    return *id;
  }
  std::vector<LeasedJob> Lease(size_t n = 10, int64_t lease_ms = kLeaseMs, std::string queue = "q") {
    auto jobs = Await(q().Lease(std::move(queue), n, lease_ms));
    if (!jobs) throw std::runtime_error("lease failed: " + jobs.error().internal);
    return std::move(*jobs);
  }
  LeasedJob LeaseOne(int64_t lease_ms = kLeaseMs, std::string queue = "q") {
    auto jobs = Lease(1, lease_ms, std::move(queue));
    if (jobs.size() != 1) throw std::runtime_error("expected one job, got " + std::to_string(jobs.size()));
    return std::move(jobs[0]);
  }
  core::Result<void> Complete(const LeasedJob& job) { return Await(q().Complete(job.id, job.lease_token)); }
  core::Result<void> Fail(const LeasedJob& job, std::string error = "boom") {
    return Await(q().Fail(job.id, job.lease_token, std::move(error)));
  }
  std::optional<int64_t> NextDueInMs(std::string queue = "q") {
    auto due = Await(q().NextDueInMs(std::move(queue)));
    if (!due) throw std::runtime_error("next due failed: " + due.error().internal);
    return *due;
  }
  QueueStats Stats(std::string queue = "q") {
    auto s = Await(q().Stats(std::move(queue)));
    if (!s) throw std::runtime_error("stats failed: " + s.error().internal);
    return *s;
  }

  boost::asio::io_context await_io_;
  std::unique_ptr<IoThreads> rig_;
  core::ManualClock clock_;
  JobQueueOptions options_;
  std::unique_ptr<JobQueueHarness> harness_;
};

TEST_P(JobQueueContract, EnqueueLeaseComplete) {
  JobId id = Enqueue(R"({"order":"o1"})");
  auto jobs = Lease();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, id);
  EXPECT_EQ(jobs[0].queue, "q");
  EXPECT_EQ(jobs[0].payload, R"({"order":"o1"})");
  EXPECT_EQ(jobs[0].attempt, 1);
  EXPECT_FALSE(jobs[0].lease_token.empty());

  auto done = Complete(jobs[0]);
  ASSERT_TRUE(done) << done.error().internal;
  EXPECT_TRUE(Lease().empty());
  clock_.AdvanceMs(10 * kLeaseMs);
  EXPECT_TRUE(Lease().empty()) << "a completed job is never delivered again";
  QueueStats s = Stats();
  EXPECT_EQ(s.completed, 1);
  EXPECT_EQ(s.ready + s.delayed + s.in_flight + s.dead, 0);
}

TEST_P(JobQueueContract, LeaseReturnsDueJobsOldestFirstUpToMax) {
  std::vector<JobId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Enqueue("job" + std::to_string(i)));
  auto first = Lease(2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].id, ids[0]);
  EXPECT_EQ(first[1].id, ids[1]);
  auto rest = Lease(10);
  ASSERT_EQ(rest.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rest[i].payload, "job" + std::to_string(i + 2));
  EXPECT_TRUE(Lease(0).empty());
}

TEST_P(JobQueueContract, LeasedJobIsHiddenFromOtherLeasers) {
  Enqueue("a");
  LeasedJob job = LeaseOne();
  EXPECT_TRUE(Lease().empty());
  clock_.AdvanceMs(kLeaseMs - 1);
  EXPECT_TRUE(Lease().empty()) << "hidden until the lease runs out";
  EXPECT_EQ(Stats().in_flight, 1);
  EXPECT_TRUE(Complete(job));
}

TEST_P(JobQueueContract, QueuesAreIndependent) {
  Enqueue("for-a", "a");
  Enqueue("for-b", "b");
  auto a = Lease(10, kLeaseMs, "a");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].payload, "for-a");
  EXPECT_EQ(a[0].queue, "a");
  EXPECT_EQ(Stats("b").ready, 1);
  EXPECT_EQ(Stats("a").in_flight, 1);
  EXPECT_EQ(Stats("nobody").ready, 0);
}

TEST_P(JobQueueContract, ExpiredLeaseIsRedeliveredWithTheNextAttempt) {
  JobId id = Enqueue("a");
  LeasedJob first = LeaseOne(1000);
  clock_.AdvanceMs(999);
  EXPECT_TRUE(Lease().empty());
  clock_.AdvanceMs(1);
  // The worker died: nobody completed, failed or extended the lease.
  LeasedJob second = LeaseOne();
  EXPECT_EQ(second.id, id);
  EXPECT_EQ(second.payload, "a");
  EXPECT_EQ(second.attempt, 2);
  EXPECT_NE(second.lease_token, first.lease_token);
}

TEST_P(JobQueueContract, StaleLeaseTokenIsRejected) {
  Enqueue("a");
  LeasedJob slow = LeaseOne(1000);
  clock_.AdvanceMs(1000);
  LeasedJob fresh = LeaseOne();
  ASSERT_EQ(fresh.id, slow.id);

  SHOPD_QUEUE_EXPECT_ERRC(Complete(slow), core::Errc::kConflict);
  SHOPD_QUEUE_EXPECT_ERRC(Fail(slow), core::Errc::kConflict);
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().ExtendLease(slow.id, slow.lease_token, 1000)), core::Errc::kConflict);
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().Complete(slow.id, "made-up-token")), core::Errc::kConflict);
  EXPECT_EQ(Stats().in_flight, 1) << "the rejected calls changed nothing";

  auto done = Complete(fresh);
  ASSERT_TRUE(done) << done.error().internal;
  SHOPD_QUEUE_EXPECT_ERRC(Complete(fresh), core::Errc::kNotFound);
  SHOPD_QUEUE_EXPECT_ERRC(Complete(slow), core::Errc::kNotFound);
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().Complete(987654321, "x")), core::Errc::kNotFound);
  EXPECT_EQ(Stats().completed, 1);
}

TEST_P(JobQueueContract, ExpiredLeaseMayStillCompleteWhileNobodyElseHasTheJob) {
  Enqueue("a");
  LeasedJob job = LeaseOne(1000);
  clock_.AdvanceMs(5000);
  auto done = Complete(job);
  ASSERT_TRUE(done) << done.error().internal;
  EXPECT_TRUE(Lease().empty());
}

TEST_P(JobQueueContract, ExtendLeaseKeepsTheJobHidden) {
  Enqueue("a");
  LeasedJob job = LeaseOne(1000);
  clock_.AdvanceMs(900);
  ASSERT_TRUE(Await(q().ExtendLease(job.id, job.lease_token, 1000)));
  clock_.AdvanceMs(900);
  EXPECT_TRUE(Lease().empty());
  clock_.AdvanceMs(100);
  LeasedJob again = LeaseOne();
  EXPECT_EQ(again.id, job.id);
  EXPECT_EQ(again.attempt, 2);
}

TEST_P(JobQueueContract, FailedJobIsRetriedAfterTheBackoffAndNotBefore) {
  JobId id = Enqueue("a");
  LeasedJob first = LeaseOne();
  ASSERT_TRUE(Fail(first, "first failure"));
  QueueStats s = Stats();
  EXPECT_EQ(s.delayed, 1);
  EXPECT_EQ(s.in_flight, 0);

  clock_.AdvanceMs(999);  // base backoff is 1000 ms
  EXPECT_TRUE(Lease().empty());
  clock_.AdvanceMs(1);
  LeasedJob second = LeaseOne();
  EXPECT_EQ(second.id, id);
  EXPECT_EQ(second.attempt, 2);
  EXPECT_NE(second.lease_token, first.lease_token);

  ASSERT_TRUE(Fail(second));
  clock_.AdvanceMs(1999);  // doubled
  EXPECT_TRUE(Lease().empty());
  clock_.AdvanceMs(1);
  EXPECT_EQ(LeaseOne().attempt, 3);
}

TEST_P(JobQueueContract, NextDueCoversDelayedJobsRetriesAndLeases) {
  EXPECT_EQ(NextDueInMs(), std::nullopt) << "an empty queue has nothing coming";
  Enqueue("later", "q", /*delay_ms=*/5000);
  Enqueue("elsewhere", "other");
  EXPECT_EQ(NextDueInMs(), 5000);
  EXPECT_EQ(NextDueInMs("other"), 0) << "a ready job is due now";
  clock_.AdvanceMs(1500);
  EXPECT_EQ(NextDueInMs(), 3500);

  // A leased job counts from its lease's end, a failed one from its backoff.
  LeasedJob other = LeaseOne(/*lease_ms=*/2000, "other");
  EXPECT_EQ(NextDueInMs("other"), 2000);
  ASSERT_TRUE(Await(q().Fail(other.id, other.lease_token, "boom")));
  EXPECT_EQ(NextDueInMs("other"), 1000);  // base backoff
  clock_.AdvanceMs(1000);
  EXPECT_EQ(NextDueInMs("other"), 0);
  ASSERT_TRUE(Complete(LeaseOne(kLeaseMs, "other")));
  EXPECT_EQ(NextDueInMs("other"), std::nullopt);

  clock_.AdvanceMs(10'000);
  EXPECT_EQ(NextDueInMs(), 0) << "overdue is due now, never negative";
}

TEST_P(JobQueueContract, JitteredBackoffNeverExceedsTheExponentialDelay) {
  options_.retry = RetryPolicy{.base_ms = 1000, .cap_ms = 1500, .jitter = true};
  Rebuild();
  for (int i = 0; i < 5; ++i) Enqueue("j" + std::to_string(i), "q", 0, 10);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto jobs = Lease();
    ASSERT_EQ(jobs.size(), 5u) << "attempt " << attempt;
    for (const auto& job : jobs) {
      EXPECT_EQ(job.attempt, attempt);
      ASSERT_TRUE(Fail(job));
    }
    // Full jitter: anywhere in [0, min(cap, base * 2^(n-1))].
    clock_.AdvanceMs(std::min<int64_t>(1500, 1000 << (attempt - 1)));
  }
}

TEST_P(JobQueueContract, JobBecomesADeadLetterAfterMaxAttemptsAndRetryDeadRevivesIt) {
  JobId id = Enqueue("poison", "q", 0, /*max_attempts=*/2);
  ASSERT_TRUE(Fail(LeaseOne(), "boom 1"));
  clock_.AdvanceMs(1000);
  LeasedJob last = LeaseOne();
  EXPECT_EQ(last.attempt, 2);
  ASSERT_TRUE(Fail(last, "boom 2"));

  clock_.AdvanceMs(60'000);
  EXPECT_TRUE(Lease().empty()) << "a dead letter is never delivered";
  QueueStats s = Stats();
  EXPECT_EQ(s.dead, 1);
  EXPECT_EQ(s.ready + s.delayed + s.in_flight, 0);

  auto dead = Await(q().DeadLetters("q", 10));
  ASSERT_TRUE(dead) << dead.error().internal;
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, id);
  EXPECT_EQ((*dead)[0].queue, "q");
  EXPECT_EQ((*dead)[0].payload, "poison");
  EXPECT_EQ((*dead)[0].attempts, 2);
  EXPECT_EQ((*dead)[0].last_error, "boom 2");
  EXPECT_GT((*dead)[0].dead_ms, 0);

  auto retried = Await(q().RetryDead(id));
  ASSERT_TRUE(retried) << retried.error().internal;
  EXPECT_EQ(Stats().dead, 0);
  EXPECT_EQ(Stats().ready, 1);
  LeasedJob revived = LeaseOne();
  EXPECT_EQ(revived.id, id);
  EXPECT_EQ(revived.attempt, 1) << "attempts start over";
  EXPECT_EQ(revived.payload, "poison");
  ASSERT_TRUE(Complete(revived));

  SHOPD_QUEUE_EXPECT_ERRC(Await(q().RetryDead(id)), core::Errc::kNotFound);
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().RetryDead(987654321)), core::Errc::kNotFound);
}

TEST_P(JobQueueContract, RetryDeadOnlyRevivesDeadJobs) {
  JobId id = Enqueue("a");
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().RetryDead(id)), core::Errc::kNotFound);
  LeasedJob job = LeaseOne();
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().RetryDead(id)), core::Errc::kNotFound);
  EXPECT_TRUE(Complete(job)) << "the lease is untouched";
}

TEST_P(JobQueueContract, DefaultMaxAttemptsComesFromTheOptions) {
  Enqueue("a");  // default_max_attempts = 3
  for (int attempt = 1; attempt <= 3; ++attempt) {
    LeasedJob job = LeaseOne();
    EXPECT_EQ(job.attempt, attempt);
    ASSERT_TRUE(Fail(job));
    clock_.AdvanceMs(8000);
  }
  EXPECT_TRUE(Lease().empty());
  EXPECT_EQ(Stats().dead, 1);
}

TEST_P(JobQueueContract, ALeaseThatRunsOutOnTheLastAttemptDeadLetters) {
  // A job that kills its worker every time must not be delivered forever.
  JobId id = Enqueue("crashes-the-worker", "q", 0, /*max_attempts=*/2);
  LeaseOne(1000);
  clock_.AdvanceMs(1000);
  EXPECT_EQ(LeaseOne(1000).attempt, 2);
  clock_.AdvanceMs(1000);
  EXPECT_TRUE(Lease().empty());
  EXPECT_EQ(Stats().dead, 1);
  auto dead = Await(q().DeadLetters("q", 10));
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, id);
  EXPECT_NE((*dead)[0].last_error.find("lease expired"), std::string::npos) << (*dead)[0].last_error;
}

TEST_P(JobQueueContract, DelayedJobIsInvisibleUntilDue) {
  JobId id = Enqueue("later", "q", /*delay_ms=*/5000);
  QueueStats s = Stats();
  EXPECT_EQ(s.delayed, 1);
  EXPECT_EQ(s.ready, 0);
  EXPECT_TRUE(Lease().empty());
  clock_.AdvanceMs(4999);
  EXPECT_TRUE(Lease().empty());
  clock_.AdvanceMs(1);
  EXPECT_EQ(Stats().ready, 1);
  LeasedJob job = LeaseOne();
  EXPECT_EQ(job.id, id);
  EXPECT_EQ(job.attempt, 1);
}

TEST_P(JobQueueContract, DelayedJobsDoNotHoldBackDueOnes) {
  Enqueue("later", "q", 5000);
  JobId now_id = Enqueue("now");
  auto jobs = Lease();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, now_id);
}

TEST_P(JobQueueContract, DedupeKeyEnqueuesOnce) {
  auto request = [](std::string queue, std::string payload) {
    return EnqueueRequest{.queue = std::move(queue), .payload = std::move(payload), .dedupe_key = "order-o1"};
  };
  auto first = Await(q().Enqueue(request("q", "v1")));
  ASSERT_TRUE(first) << first.error().internal;
  auto again = Await(q().Enqueue(request("q", "v2")));
  ASSERT_TRUE(again) << again.error().internal;
  EXPECT_EQ(*again, *first);
  auto other_queue = Await(q().Enqueue(request("other", "v3")));
  ASSERT_TRUE(other_queue);
  EXPECT_NE(*other_queue, *first);

  auto jobs = Lease();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].payload, "v1") << "the duplicate changed nothing";
  // Still deduplicated while in flight.
  auto in_flight = Await(q().Enqueue(request("q", "v4")));
  ASSERT_TRUE(in_flight);
  EXPECT_EQ(*in_flight, *first);
  EXPECT_TRUE(Lease().empty());
  ASSERT_TRUE(Complete(jobs[0]));

  // A completed job's key may be used again.
  auto later = Await(q().Enqueue(request("q", "v5")));
  ASSERT_TRUE(later);
  EXPECT_NE(*later, *first);
  EXPECT_EQ(LeaseOne().payload, "v5");
}

TEST_P(JobQueueContract, ConcurrentDuplicateEnqueuesMakeOneJob) {
  boost::asio::io_context& io = await_io_;
  io.restart();
  std::vector<std::optional<core::Result<JobId>>> results(16);
  for (size_t i = 0; i < results.size(); ++i) {
    boost::asio::co_spawn(
        io, q().Enqueue(EnqueueRequest{.queue = "q", .payload = "p", .dedupe_key = "same"}),
        [&results, i](std::exception_ptr e, core::Result<JobId> r) {
          if (!e) results[i].emplace(std::move(r));
        });
  }
  io.run();
  std::set<JobId> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->has_value()) << r->error().internal;
    ids.insert(r->value());
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(Stats().ready, 1);
}

TEST_P(JobQueueContract, EnqueueBatchIsAllOrNothingInOrder) {
  std::vector<EnqueueRequest> batch;
  for (int i = 0; i < 4; ++i) batch.push_back({.queue = "q", .payload = "b" + std::to_string(i)});
  auto ids = Await(q().EnqueueBatch(batch));
  ASSERT_TRUE(ids) << ids.error().internal;
  ASSERT_EQ(ids->size(), 4u);
  auto jobs = Lease();
  ASSERT_EQ(jobs.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(jobs[i].id, (*ids)[i]);
    EXPECT_EQ(jobs[i].payload, "b" + std::to_string(i));
  }

  batch.push_back({.queue = "", .payload = "invalid"});
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().EnqueueBatch(batch)), core::Errc::kInvalidArgument);
  EXPECT_EQ(Stats().ready, 0) << "nothing of a rejected batch is enqueued";
  auto empty = Await(q().EnqueueBatch({}));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_P(JobQueueContract, InvalidRequestsAreRejected) {
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().Enqueue({.queue = "", .payload = "p"})), core::Errc::kInvalidArgument);
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().Enqueue({.queue = "q", .payload = "p", .delay_ms = -1})),
                          core::Errc::kInvalidArgument);
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().Enqueue({.queue = "q", .payload = "p", .max_attempts = -1})),
                          core::Errc::kInvalidArgument);
  SHOPD_QUEUE_EXPECT_ERRC(
      Await(q().Enqueue({.queue = "q", .payload = std::string(options_.max_payload_bytes + 1, 'x')})),
      core::Errc::kInvalidArgument);
  SHOPD_QUEUE_EXPECT_ERRC(Await(q().Lease("q", 1, 0)), core::Errc::kInvalidArgument);
  EXPECT_EQ(Stats().ready, 0);
}

TEST_P(JobQueueContract, LeaseBatchIsCapped) {
  options_.max_lease_batch = 3;
  Rebuild();
  for (int i = 0; i < 5; ++i) Enqueue("x");
  EXPECT_EQ(Lease(100).size(), 3u);
  EXPECT_EQ(Lease(100).size(), 2u);
}

TEST_P(JobQueueContract, StatsCountEveryState) {
  Enqueue("ready-1");
  Enqueue("ready-2");
  Enqueue("delayed", "q", 60'000);
  Enqueue("dead", "q", 0, 1);
  Enqueue("done-1");
  Enqueue("done-2");
  Enqueue("in-flight");
  auto jobs = Lease(7);
  ASSERT_EQ(jobs.size(), 6u);
  for (const LeasedJob& job : jobs) {
    if (job.payload == "dead") {
      ASSERT_TRUE(Fail(job));
    } else if (job.payload.starts_with("done")) {
      ASSERT_TRUE(Complete(job));
    } else if (job.payload.starts_with("ready")) {
      ASSERT_TRUE(Fail(job));  // back to waiting, due in 1 s
    }
  }
  clock_.AdvanceMs(1000);
  QueueStats s = Stats();
  EXPECT_EQ(s.ready, 2);
  EXPECT_EQ(s.delayed, 1);
  EXPECT_EQ(s.in_flight, 1);
  EXPECT_EQ(s.dead, 1);
  EXPECT_EQ(s.completed, 2);
}

TEST_P(JobQueueContract, DeadLettersAreListedOldestFirstUpToTheLimit) {
  std::vector<JobId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Enqueue("d" + std::to_string(i), "q", 0, 1));
  for (const LeasedJob& job : Lease()) ASSERT_TRUE(Fail(job, "error of " + job.payload));
  auto two = Await(q().DeadLetters("q", 2));
  ASSERT_TRUE(two);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].id, ids[0]);
  EXPECT_EQ((*two)[1].id, ids[1]);
  EXPECT_EQ((*two)[1].last_error, "error of d1");
  auto other = Await(q().DeadLetters("other", 10));
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
}

TEST_P(JobQueueContract, JobsSurviveARestart) {
  JobId leased_id = Enqueue("leased");
  Enqueue("delayed", "q", 5000);
  LeaseOne(1000);
  harness_->Restart();
  EXPECT_TRUE(Lease().empty()) << "the lease is durable too";
  QueueStats s = Stats();
  EXPECT_EQ(s.in_flight, 1);
  EXPECT_EQ(s.delayed, 1);
  clock_.AdvanceMs(5000);
  auto jobs = Lease();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, leased_id) << "redelivery first";
  EXPECT_EQ(jobs[0].attempt, 2);
  EXPECT_EQ(jobs[1].payload, "delayed");
}

TEST_P(JobQueueContract, ConcurrentLeasersGetEveryJobExactlyOnce) {
  constexpr int kJobs = 200;
  constexpr int kLeasers = 8;
  std::vector<EnqueueRequest> batch;
  for (int i = 0; i < kJobs; ++i) batch.push_back({.queue = "q", .payload = std::to_string(i)});
  ASSERT_TRUE(Await(q().EnqueueBatch(batch)));

  boost::asio::io_context& io = await_io_;
  io.restart();
  std::mutex mu;
  std::vector<JobId> leased;
  std::vector<std::string> errors;
  std::atomic<int> completed{0};
  for (int i = 0; i < kLeasers; ++i) {
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          for (;;) {
            auto jobs = co_await q().Lease("q", 7, kLeaseMs);
            if (!jobs) {
              std::lock_guard lock(mu);
              errors.push_back(jobs.error().internal);
              co_return;
            }
            if (jobs->empty()) co_return;
            {
              std::lock_guard lock(mu);
              for (const auto& job : *jobs) leased.push_back(job.id);
            }
            for (const auto& job : *jobs) {
              auto done = co_await q().Complete(job.id, job.lease_token);
              if (done) {
                ++completed;
              } else {
                std::lock_guard lock(mu);
                errors.push_back(done.error().internal);
              }
            }
          }
        },
        boost::asio::detached);
  }
  std::thread second([&] { io.run(); });
  io.run();
  second.join();

  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(leased.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<JobId>(leased.begin(), leased.end()).size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(completed.load(), kJobs);
  QueueStats s = Stats();
  EXPECT_EQ(s.completed, kJobs);
  EXPECT_EQ(s.ready + s.in_flight, 0);
}

TEST(JobQueueBackoff, ExponentialCappedAndJittered) {
  RetryPolicy fixed{.base_ms = 200, .cap_ms = 60'000, .jitter = false};
  EXPECT_EQ(BackoffMs(fixed, 1, 0.5), 200);
  EXPECT_EQ(BackoffMs(fixed, 2, 0.5), 400);
  EXPECT_EQ(BackoffMs(fixed, 3, 0.5), 800);
  EXPECT_EQ(BackoffMs(fixed, 9, 0.5), 51'200);
  EXPECT_EQ(BackoffMs(fixed, 10, 0.5), 60'000);
  EXPECT_EQ(BackoffMs(fixed, 1'000'000, 0.5), 60'000) << "no overflow";

  RetryPolicy jittered{.base_ms = 200, .cap_ms = 60'000, .jitter = true};
  EXPECT_EQ(BackoffMs(jittered, 3, 0.0), 0);
  EXPECT_EQ(BackoffMs(jittered, 3, 0.5), 400);
  EXPECT_EQ(BackoffMs(jittered, 3, 1.0), 800);
  int64_t lo = 1'000'000, hi = -1;
  for (int i = 0; i < 2000; ++i) {
    int64_t d = BackoffMs(jittered, 4);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    ASSERT_GE(d, 0);
    ASSERT_LE(d, 1600);
  }
  EXPECT_LT(lo, 400) << "draws spread over the range";
  EXPECT_GT(hi, 1200);
}

// JobWorker over the same backend.

TEST_P(JobQueueContract, WorkerRespectsItsConcurrencyAndCompletesEveryJob) {
  constexpr int kJobs = 20;
  constexpr size_t kConcurrency = 3;
  for (int i = 0; i < kJobs; ++i) Enqueue("w" + std::to_string(i));

  IoThreads& rig = Rig(1);  // handlers and the gate below share one thread
  boost::asio::steady_timer gate(rig.io(), boost::asio::steady_timer::time_point::max());
  bool gate_open = false;
  int current = 0;
  int max_seen = 0;
  int finished = 0;
  std::promise<void> saturated;
  std::promise<void> all_done;
  JobWorker worker(q(), {.queue = "q", .concurrency = kConcurrency},
                   [&](const LeasedJob&) -> boost::asio::awaitable<core::Result<void>> {
                     max_seen = std::max(max_seen, ++current);
                     if (current == static_cast<int>(kConcurrency) && !gate_open) saturated.set_value();
                     while (!gate_open) co_await gate.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
                     --current;
                     if (++finished == kJobs) all_done.set_value();
                     co_return core::Result<void>{};
                   });
  RunningWorker running(rig, worker);
  ASSERT_EQ(saturated.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  // Every slot is taken, so no further job may be leased.
  EXPECT_EQ(Stats().in_flight, static_cast<int64_t>(kConcurrency));
  EXPECT_EQ(worker.in_flight(), kConcurrency);

  boost::asio::post(rig.io(), [&] {
    gate_open = true;
    gate.cancel();
  });
  ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_TRUE(running.Stop());

  EXPECT_EQ(max_seen, static_cast<int>(kConcurrency));
  EXPECT_EQ(worker.completed(), static_cast<uint64_t>(kJobs));
  EXPECT_EQ(worker.in_flight(), 0u);
  QueueStats s = Stats();
  EXPECT_EQ(s.completed, kJobs);
  EXPECT_EQ(s.ready + s.in_flight + s.dead, 0);
}

TEST_P(JobQueueContract, AnIdleWorkerWakesWhenADelayedJobFallsDue) {
  Enqueue("later", "q", /*delay_ms=*/200);
  IoThreads& rig = Rig(1);
  std::promise<void> ran;
  // Idle sleeps of a minute: only the queue's next-due time can bring it back sooner.
  JobWorker worker(q(), {.queue = "q", .idle_min_ms = 60'000, .idle_max_ms = 60'000},
                   [&](const LeasedJob&) -> boost::asio::awaitable<core::Result<void>> {
                     ran.set_value();
                     co_return core::Result<void>{};
                   });
  RunningWorker running(rig, worker);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // its first Lease found nothing due
  clock_.AdvanceMs(200);  // due now, and no Notify()
  EXPECT_EQ(ran.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_TRUE(running.Stop());
}

TEST_P(JobQueueContract, WorkerRetriesAFailingJobThenDeadLettersIt) {
  JobId id = Enqueue("always-fails", "q", 0, /*max_attempts=*/3);
  IoThreads& rig = Rig(2);
  std::mutex mu;
  std::vector<int> attempts;
  // The test moves the ManualClock in big steps; a lease of a day cannot run
  // out meanwhile, so no attempt is redelivered behind the worker's back.
  JobWorker worker(q(), {.queue = "q", .concurrency = 2, .lease_ms = kDayMs},
                   [&](const LeasedJob& job) -> boost::asio::awaitable<core::Result<void>> {
                     {
                       std::lock_guard lock(mu);
                       attempts.push_back(job.attempt);
                     }
                     co_return core::Error::Make(core::Errc::kUnavailable, "payment provider down");
                   });
  RunningWorker running(rig, worker);
  // Each failure waits out a backoff on the ManualClock: move it along.
  ASSERT_TRUE(Eventually([&] {
    clock_.AdvanceMs(10'000);
    worker.Notify();
    return Stats().dead == 1;
  }));
  ASSERT_TRUE(running.Stop());

  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(worker.failed(), 3u);
  EXPECT_EQ(worker.completed(), 0u);
  auto dead = Await(q().DeadLetters("q", 10));
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, id);
  EXPECT_NE((*dead)[0].last_error.find("payment provider down"), std::string::npos) << (*dead)[0].last_error;
}

TEST_P(JobQueueContract, WorkerTreatsAnExceptionAsAFailureAndRetries) {
  Enqueue("flaky");
  IoThreads& rig = Rig(1);
  std::atomic<int> calls{0};
  // A lease of a day: the clock steps below cannot expire it (see above).
  JobWorker worker(q(), {.queue = "q", .lease_ms = kDayMs}, [&](const LeasedJob& job) -> boost::asio::awaitable<core::Result<void>> {
    ++calls;
    if (job.attempt == 1) throw std::runtime_error("kaput");
    co_return core::Result<void>{};
  });
  RunningWorker running(rig, worker);
  ASSERT_TRUE(Eventually([&] {
    clock_.AdvanceMs(1000);
    worker.Notify();
    return worker.completed() == 1;
  }));
  ASSERT_TRUE(running.Stop());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(worker.failed(), 1u);
  QueueStats s = Stats();
  EXPECT_EQ(s.completed, 1);
  EXPECT_EQ(s.dead + s.ready + s.delayed + s.in_flight, 0);
}

TEST_P(JobQueueContract, WorkerStopWaitsForTheHandlersInFlight) {
  Enqueue("slow");
  IoThreads& rig = Rig(1);
  boost::asio::steady_timer gate(rig.io(), boost::asio::steady_timer::time_point::max());
  std::promise<void> started;
  std::atomic<bool> finished{false};
  JobWorker worker(q(), {.queue = "q"}, [&](const LeasedJob&) -> boost::asio::awaitable<core::Result<void>> {
    started.set_value();
    co_await gate.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    finished = true;
    co_return core::Result<void>{};
  });
  RunningWorker running(rig, worker);
  ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);

  auto stopped = boost::asio::co_spawn(rig.io(), worker.Stop(), boost::asio::use_future);
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(20)), std::future_status::timeout);
  EXPECT_FALSE(finished.load());
  boost::asio::post(rig.io(), [&] { gate.cancel(); });
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(Stats().completed, 1) << "the job in flight was completed before Stop returned";

  // A stopped worker leases nothing more.
  Enqueue("after-stop");
  worker.Notify();
  EXPECT_EQ(Stats().ready, 1);
}

TEST_P(JobQueueContract, WorkerKeepsTheLeaseOfAHandlerThatRunsLongerThanIt) {
  Enqueue("slow");
  IoThreads& rig = Rig(1);
  boost::asio::steady_timer gate(rig.io(), boost::asio::steady_timer::time_point::max());
  std::promise<void> started;
  constexpr int64_t kShortLeaseMs = 300;  // extended every 100 ms (real time)
  JobWorker worker(q(), {.queue = "q", .lease_ms = kShortLeaseMs},
                   [&](const LeasedJob&) -> boost::asio::awaitable<core::Result<void>> {
                     started.set_value();
                     co_await gate.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
                     co_return core::Result<void>{};
                   });
  RunningWorker running(rig, worker);
  ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);

  // Three lease lengths pass on the queue's clock while the handler runs.
  // Each step waits for a fresh extension and moves a quarter lease, so even
  // an extension that read the clock two steps late still covers the next.
  for (int step = 0; step < 12; ++step) {
    const uint64_t before = worker.lease_extensions();
    ASSERT_TRUE(shopd::testing::EventuallyTrue([&] { return worker.lease_extensions() > before; }))
        << "no lease extension at step " << step;
    clock_.AdvanceMs(kShortLeaseMs / 4);
  }
  EXPECT_TRUE(Lease(10, kShortLeaseMs).empty()) << "the running job was delivered again";

  boost::asio::post(rig.io(), [&] { gate.cancel(); });
  ASSERT_TRUE(running.Stop());
  EXPECT_EQ(Stats().completed, 1);
  EXPECT_EQ(Stats().ready + Stats().in_flight, 0);
}

}  // namespace shopd::queue::contract

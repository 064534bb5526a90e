#include "queue/postgres/pg_job_queue.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "queue/job_queue_contract_test.h"
#include "storage/postgres/pg_test_util.h"

namespace shopd::queue::postgres {
namespace {

// Members are destroyed in reverse: the queue, then the database (its pool,
// its io thread, the database itself). Restart builds a new queue over the
// same database, as another process would.
class PostgresHarness final : public contract::JobQueueHarness {
 public:
  PostgresHarness(core::ManualClock& clock, const JobQueueOptions& options) : clock_(clock), options_(options) {
    Restart();
  }
  JobQueue& queue() override { return *queue_; }
  void Restart() override {
    queue_.reset();
    queue_ = std::make_unique<PgJobQueue>(db_.pool(), clock_, options_);
  }

 private:
  core::ManualClock& clock_;
  const JobQueueOptions options_;
  storage::postgres::test_util::FreshDatabase db_;
  std::unique_ptr<PgJobQueue> queue_;
};

using contract::JobQueueContract;
INSTANTIATE_TEST_SUITE_P(Postgres, JobQueueContract,
                         ::testing::Values(contract::JobQueueBackend{
                             "Postgres",
                             [](core::ManualClock& clock, const JobQueueOptions& options) {
                               return std::make_unique<PostgresHarness>(clock, options);
                             }}),
                         contract::JobQueueBackendName);

// PostgreSQL-only behaviour: batches with dedupe keys (one statement for the
// whole batch) and text the server would refuse.

class PgJobQueueTest : public ::testing::Test {
 protected:
  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(io_, std::move(aw));
  }
  JobQueue& q() { return harness_.queue(); }

  boost::asio::io_context io_;
  core::ManualClock clock_;
  PostgresHarness harness_{clock_, JobQueueOptions{}};
};

TEST_F(PgJobQueueTest, BatchDedupesWithinItselfAndAgainstExistingJobs) {
  auto old = Await(q().Enqueue({.queue = "q", .payload = "old", .dedupe_key = "k1"}));
  ASSERT_TRUE(old) << old.error().internal;
  // Array-literal syntax in a payload is data.
  const std::string tricky = R"({"a": "x,\"y\" \\ NULL {}"})";
  std::vector<EnqueueRequest> batch = {
      {.queue = "q", .payload = tricky},
      {.queue = "q", .payload = "dup-of-old", .dedupe_key = "k1"},
      {.queue = "q", .payload = "c", .dedupe_key = "k2"},
      {.queue = "q", .payload = "dup-of-c", .dedupe_key = "k2"},
      {.queue = "other", .payload = "e", .dedupe_key = "k2"},
      {.queue = "q", .payload = "f"},
  };
  auto ids = Await(q().EnqueueBatch(batch));
  ASSERT_TRUE(ids) << ids.error().internal;
  ASSERT_EQ(ids->size(), batch.size());
  EXPECT_EQ((*ids)[1], *old);
  EXPECT_EQ((*ids)[3], (*ids)[2]);
  EXPECT_NE((*ids)[4], (*ids)[2]) << "keys are per queue";
  EXPECT_LT(*old, (*ids)[0]);
  EXPECT_LT((*ids)[0], (*ids)[2]) << "new jobs get ids in request order";
  EXPECT_LT((*ids)[2], (*ids)[4]);
  EXPECT_LT((*ids)[4], (*ids)[5]);

  auto jobs = Await(q().Lease("q", 10, 1000));
  ASSERT_TRUE(jobs) << jobs.error().internal;
  std::vector<std::string> payloads;
  for (const LeasedJob& job : *jobs) payloads.push_back(job.payload);
  EXPECT_EQ(payloads, (std::vector<std::string>{"old", tricky, "c", "f"}));
  auto stats = Await(q().Stats("other"));
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->ready, 1);
}

TEST_F(PgJobQueueTest, ConcurrentBatchesSharingDedupeKeysMakeOneJobPerKey) {
  constexpr int kKeys = 20;
  constexpr size_t kBatches = 8;
  std::vector<std::optional<core::Result<std::vector<JobId>>>> results(kBatches);
  io_.restart();
  for (size_t b = 0; b < kBatches; ++b) {
    // Every other batch lists the keys backwards.
    std::vector<EnqueueRequest> batch;
    for (int k = 0; k < kKeys; ++k) {
      const int key = b % 2 == 0 ? k : kKeys - 1 - k;
      batch.push_back({.queue = "q", .payload = std::to_string(b), .dedupe_key = "k" + std::to_string(key)});
    }
    boost::asio::co_spawn(io_, q().EnqueueBatch(std::move(batch)),
                          [&results, b](std::exception_ptr e, core::Result<std::vector<JobId>> r) {
                            if (!e) results[b].emplace(std::move(r));
                          });
  }
  io_.run();
  std::vector<JobId> by_key(kKeys, 0);
  for (size_t b = 0; b < kBatches; ++b) {
    ASSERT_TRUE(results[b].has_value());
    ASSERT_TRUE(results[b]->has_value()) << results[b]->error().internal;
    const std::vector<JobId>& ids = results[b]->value();
    ASSERT_EQ(ids.size(), static_cast<size_t>(kKeys));
    for (int k = 0; k < kKeys; ++k) {
      const int key = b % 2 == 0 ? k : kKeys - 1 - k;
      if (by_key[key] == 0) by_key[key] = ids[k];
      EXPECT_EQ(ids[k], by_key[key]) << "batch " << b << ", key k" << key;
    }
  }
  auto stats = Await(q().Stats("q"));
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->ready, kKeys);
}

TEST_F(PgJobQueueTest, TextThePostgresServerCannotStoreIsRejected) {
  const std::string nul("a\0b", 3);
  for (const std::string& bad : {std::string("\xff"), nul, std::string("\xc0\xaf"), std::string("\xed\xa0\x80")}) {
    auto payload = Await(q().Enqueue({.queue = "q", .payload = bad}));
    ASSERT_FALSE(payload);
    EXPECT_EQ(payload.error().code, core::Errc::kInvalidArgument);
    auto key = Await(q().Enqueue({.queue = "q", .payload = "p", .dedupe_key = bad}));
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().code, core::Errc::kInvalidArgument);
    auto lease = Await(q().Lease(bad, 1, 1000));
    ASSERT_FALSE(lease);
    EXPECT_EQ(lease.error().code, core::Errc::kInvalidArgument);
  }
  const std::string unicode = "\xc3\xbc \xe2\x9c\x93 \xf0\x9f\x8e\x89 \"quoted\" \\ {braces}";
  auto id = Await(q().Enqueue({.queue = "q", .payload = unicode}));
  ASSERT_TRUE(id) << id.error().internal;
  auto jobs = Await(q().Lease("q", 1, 1000));
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].payload, unicode);
  // A token that is not text cannot be one the queue issued.
  auto complete = Await(q().Complete((*jobs)[0].id, "\xff"));
  ASSERT_FALSE(complete);
  EXPECT_EQ(complete.error().code, core::Errc::kConflict);
}

TEST_F(PgJobQueueTest, FailKeepsAnyErrorAsTextOfBoundedLength) {
  ASSERT_TRUE(Await(q().Enqueue({.queue = "q", .payload = "p", .max_attempts = 1})));
  auto jobs = Await(q().Lease("q", 1, 1000));
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1u);
  std::string error = "bad \xff bytes ";
  error += std::string(1, '\0');
  for (int i = 0; i < 3000; ++i) error += "\xc3\xa9";  // 2-byte characters past the 4096-byte cap
  auto failed = Await(q().Fail((*jobs)[0].id, (*jobs)[0].lease_token, error));
  ASSERT_TRUE(failed) << failed.error().internal;

  auto dead = Await(q().DeadLetters("q", 10));
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  const std::string& stored = (*dead)[0].last_error;
  EXPECT_TRUE(stored.starts_with("bad \xef\xbf\xbd bytes \xef\xbf\xbd\xc3\xa9")) << stored.substr(0, 20);
  EXPECT_LE(stored.size(), 4096u);
  EXPECT_GT(stored.size(), 4090u);
  EXPECT_EQ(stored.substr(stored.size() - 2), "\xc3\xa9") << "cut between characters";
}

TEST_F(PgJobQueueTest, JobIdsAreNeverReused) {
  auto first = Await(q().Enqueue({.queue = "q", .payload = "a"}));
  ASSERT_TRUE(first);
  auto jobs = Await(q().Lease("q", 1, 1000));
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1u);
  ASSERT_TRUE(Await(q().Complete((*jobs)[0].id, (*jobs)[0].lease_token)));
  auto second = Await(q().Enqueue({.queue = "q", .payload = "b"}));
  ASSERT_TRUE(second);
  EXPECT_GT(*second, *first);
}

}  // namespace
}  // namespace shopd::queue::postgres

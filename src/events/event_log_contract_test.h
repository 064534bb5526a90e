// events: the EventLog contract, one TEST_P suite run against every backend,
// plus EventConsumer's behaviour over it. Depends on events and GoogleTest.
//
// A backend's test file includes this header once (it defines tests) and
// instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, EventLogContract,
//       ::testing::Values(EventLogBackend{"Sqlite", MakeSqliteHarness}), EventLogBackendName);
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
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
#include "events/consumer.h"
#include "events/event_log.h"
#include "events/event_tail.h"
#include "core/testing/async_test_util.h"

namespace shopd::events::contract {

// Owns one fresh, empty log and whatever it needs, released in the destructor.
class EventLogHarness {
 public:
  virtual ~EventLogHarness() = default;
  virtual EventLog& log() = 0;
  // Replaces log() with a new instance over the same storage, as a process
  // restart would.
  virtual void Restart() = 0;
};

struct EventLogBackend {
  std::string name;  // test-name suffix: letters and digits only
  std::function<std::unique_ptr<EventLogHarness>(core::ManualClock&)> make;

  friend void PrintTo(const EventLogBackend& b, std::ostream* os) { *os << b.name; }
};

inline std::string EventLogBackendName(const ::testing::TestParamInfo<EventLogBackend>& info) {
  return info.param.name;
}

using shopd::testing::EventuallyTrue;
using shopd::testing::IoThread;

#define SHOPD_EVENTS_EXPECT_ERRC(result, errc)                 \
  do {                                                         \
    const auto& r_ = (result);                                 \
    ASSERT_FALSE(r_.has_value()) << "expected an error";       \
    EXPECT_EQ(r_.error().code, (errc)) << r_.error().internal; \
  } while (0)

class EventLogContract : public ::testing::TestWithParam<EventLogBackend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make(clock_);
    ASSERT_NE(harness_, nullptr);
  }
  // The backend (and its threads) go first: they may still be finishing a
  // post to the io_contexts below when a test's last completion has run.
  void TearDown() override { harness_.reset(); }

  EventLog& log() { return harness_->log(); }

  // Drives one awaitable to completion on this thread.
  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(await_io_, std::move(aw));
  }
  // A background thread for EventConsumer tests, alive until after TearDown.
  IoThread& Background() {
    background_ = std::make_unique<IoThread>();
    return *background_;
  }

  int64_t Append(std::string topic, std::string key, std::string payload) {
    auto offset = Await(log().Append(std::move(topic), std::move(key), std::move(payload)));
    if (!offset) throw std::runtime_error("append failed: " + offset.error().internal);
    return *offset;
  }
  std::vector<Event> Read(std::string topic, std::string group, size_t max = 100) {
    auto events = Await(log().Read(std::move(topic), std::move(group), max));
    if (!events) throw std::runtime_error("read failed: " + events.error().internal);
    return std::move(*events);
  }
  core::Result<void> Commit(std::string topic, std::string group, int64_t offset) {
    return Await(log().Commit(std::move(topic), std::move(group), offset));
  }
  int64_t Committed(std::string topic, std::string group) {
    auto offset = Await(log().CommittedOffset(std::move(topic), std::move(group)));
    if (!offset) throw std::runtime_error("committed offset failed: " + offset.error().internal);
    return *offset;
  }
  int64_t End(std::string topic) {
    auto offset = Await(log().EndOffset(std::move(topic)));
    if (!offset) throw std::runtime_error("end offset failed: " + offset.error().internal);
    return *offset;
  }
  static std::vector<int64_t> Offsets(const std::vector<Event>& events) {
    std::vector<int64_t> out;
    for (const Event& e : events) out.push_back(e.offset);
    return out;
  }
  // The clock's wall time in ms (ManualClock keeps seconds and ms in step).
  int64_t ClockMs() const { return clock_.UnixSeconds() * 1000 + clock_.MonotonicMs() % 1000; }

  boost::asio::io_context await_io_;
  std::unique_ptr<IoThread> background_;
  core::ManualClock clock_;
  std::unique_ptr<EventLogHarness> harness_;
};

TEST_P(EventLogContract, OffsetsIncreasePerTopicFromOne) {
  EXPECT_EQ(End("orders"), 0);
  EXPECT_EQ(Append("orders", "o1", "a"), 1);
  EXPECT_EQ(Append("orders", "o2", "b"), 2);
  EXPECT_EQ(Append("payments", "p1", "c"), 1) << "topics are independent sequences";
  EXPECT_EQ(Append("orders", "o1", "d"), 3);
  EXPECT_EQ(End("orders"), 3);
  EXPECT_EQ(End("payments"), 1);
  EXPECT_EQ(End("nothing"), 0);
}

TEST_P(EventLogContract, ReadReturnsEventsInOrderWithTheirFields) {
  clock_.AdvanceMs(1234);
  const int64_t at = ClockMs();
  Append("orders", "o1", R"({"n":1})");
  Append("orders", "o2", R"({"n":2})");
  Append("other", "x", "not in orders");
  Append("orders", "o3", R"({"n":3})");
  auto events = Read("orders", "g");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(Offsets(events), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(events[0].topic, "orders");
  EXPECT_EQ(events[0].key, "o1");
  EXPECT_EQ(events[0].payload, R"({"n":1})");
  EXPECT_EQ(events[0].created_ms, at);
  EXPECT_EQ(events[2].key, "o3");
  EXPECT_EQ(events[2].payload, R"({"n":3})");
}

TEST_P(EventLogContract, ReadIsBoundedAndMovesNothing) {
  for (int i = 0; i < 5; ++i) Append("t", "k", std::to_string(i));
  EXPECT_EQ(Offsets(Read("t", "g", 2)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Offsets(Read("t", "g", 2)), (std::vector<int64_t>{1, 2})) << "not committed: read again";
  EXPECT_TRUE(Read("t", "g", 0).empty());
  EXPECT_EQ(Committed("t", "g"), 0);
}

TEST_P(EventLogContract, CommitMovesTheGroupAndGroupsAreIndependent) {
  for (int i = 0; i < 5; ++i) Append("t", "k", std::to_string(i));
  ASSERT_TRUE(Commit("t", "saga", 3));
  EXPECT_EQ(Committed("t", "saga"), 3);
  EXPECT_EQ(Offsets(Read("t", "saga")), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(Offsets(Read("t", "audit")), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(Committed("t", "audit"), 0);
  ASSERT_TRUE(Commit("t", "saga", 5));
  EXPECT_TRUE(Read("t", "saga").empty());
  Append("t", "k", "late");
  auto late = Read("t", "saga");
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].offset, 6);
  EXPECT_EQ(late[0].payload, "late");
}

TEST_P(EventLogContract, CommittingBackwardsIsIgnored) {
  for (int i = 0; i < 4; ++i) Append("t", "k", std::to_string(i));
  ASSERT_TRUE(Commit("t", "g", 3));
  ASSERT_TRUE(Commit("t", "g", 1));
  ASSERT_TRUE(Commit("t", "g", 0));
  EXPECT_EQ(Committed("t", "g"), 3);
  EXPECT_EQ(Offsets(Read("t", "g")), (std::vector<int64_t>{4}));
}

TEST_P(EventLogContract, CommittingPastTheEndIsRejected) {
  Append("t", "k", "only");
  SHOPD_EVENTS_EXPECT_ERRC(Commit("t", "g", 2), core::Errc::kInvalidArgument);
  SHOPD_EVENTS_EXPECT_ERRC(Commit("t", "g", -1), core::Errc::kInvalidArgument);
  SHOPD_EVENTS_EXPECT_ERRC(Commit("empty", "g", 1), core::Errc::kInvalidArgument);
  EXPECT_EQ(Committed("t", "g"), 0);
}

TEST_P(EventLogContract, AfterARestartReadingResumesAfterTheCommittedOffset) {
  for (int i = 1; i <= 5; ++i) Append("t", "k", "e" + std::to_string(i));
  auto first = Read("t", "g");
  ASSERT_EQ(first.size(), 5u);
  // Events 4 and 5 were read but not committed when the consumer "crashed".
  ASSERT_TRUE(Commit("t", "g", 3));
  harness_->Restart();
  EXPECT_EQ(Committed("t", "g"), 3);
  EXPECT_EQ(End("t"), 5);
  auto again = Read("t", "g");
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].offset, 4);
  EXPECT_EQ(again[0].payload, "e4");
  EXPECT_EQ(again[1].payload, "e5");
  EXPECT_EQ(Append("t", "k", "e6"), 6) << "offsets continue after a restart";
}

TEST_P(EventLogContract, AppendBatchKeepsInputOrderAcrossTopics) {
  std::vector<EventInput> batch = {
      {"a", "k1", "a1", 0},
      {"b", "k2", "b1", 0},
      {"a", "k3", "a2", 42'000},
      {"a", "k4", "a3", 0},
  };
  Append("b", "k0", "b0");
  auto offsets = Await(log().AppendBatch(batch));
  ASSERT_TRUE(offsets) << offsets.error().internal;
  EXPECT_EQ(*offsets, (std::vector<int64_t>{1, 2, 2, 3}));
  auto a = Read("a", "g");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].payload, "a1");
  EXPECT_EQ(a[1].payload, "a2");
  EXPECT_EQ(a[1].created_ms, 42'000) << "a given created_ms is kept";
  EXPECT_EQ(a[2].payload, "a3");
  EXPECT_EQ(a[2].created_ms, ClockMs());
  EXPECT_EQ(Offsets(Read("b", "g")), (std::vector<int64_t>{1, 2}));

  auto empty = Await(log().AppendBatch({}));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  batch.push_back({"", "k", "no topic", 0});
  SHOPD_EVENTS_EXPECT_ERRC(Await(log().AppendBatch(batch)), core::Errc::kInvalidArgument);
  EXPECT_EQ(End("a"), 3) << "a rejected batch appends nothing";
}

TEST_P(EventLogContract, InvalidNamesAreRejected) {
  SHOPD_EVENTS_EXPECT_ERRC(Await(log().Append("", "k", "p")), core::Errc::kInvalidArgument);
  SHOPD_EVENTS_EXPECT_ERRC(Await(log().Read("t", "", 10)), core::Errc::kInvalidArgument);
  SHOPD_EVENTS_EXPECT_ERRC(Await(log().Read("", "g", 10)), core::Errc::kInvalidArgument);
  SHOPD_EVENTS_EXPECT_ERRC(Await(log().Append(std::string(256, 't'), "k", "p")), core::Errc::kInvalidArgument);
}

TEST_P(EventLogContract, ConcurrentAppendsGetDistinctDenseOffsets) {
  constexpr int kAppends = 60;
  boost::asio::io_context& io = await_io_;
  io.restart();
  std::mutex mu;
  std::vector<int64_t> offsets;
  std::vector<std::string> errors;
  for (int i = 0; i < kAppends; ++i) {
    boost::asio::co_spawn(io, log().Append("t", "k", std::to_string(i)),
                          [&](std::exception_ptr e, core::Result<int64_t> r) {
                            std::lock_guard lock(mu);
                            if (e) {
                              errors.push_back("exception");
                            } else if (!r) {
                              errors.push_back(r.error().internal);
                            } else {
                              offsets.push_back(*r);
                            }
                          });
  }
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  ASSERT_TRUE(errors.empty()) << errors.front();
  std::set<int64_t> unique(offsets.begin(), offsets.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kAppends));
  EXPECT_EQ(*unique.begin(), 1);
  EXPECT_EQ(*unique.rbegin(), kAppends);
  EXPECT_EQ(Read("t", "g", 1000).size(), static_cast<size_t>(kAppends));
}

// EventConsumer over the same backend.

TEST_P(EventLogContract, ConsumerHandlesEveryEventInOrderAndCommits) {
  for (int i = 1; i <= 7; ++i) Append("t", "k", "e" + std::to_string(i));
  IoThread& io = Background();
  std::mutex mu;
  std::vector<int64_t> seen;
  EventConsumer consumer(log(), {.topic = "t", .group = "g", .batch_size = 3},
                         [&](const Event& e) -> boost::asio::awaitable<core::Result<void>> {
                           std::lock_guard lock(mu);
                           seen.push_back(e.offset);
                           co_return core::Result<void>{};
                         });
  consumer.Start(io.io().get_executor());
  ASSERT_TRUE(EventuallyTrue([&] { return Committed("t", "g") == 7; }));
  Append("t", "k", "e8");
  consumer.Notify();
  ASSERT_TRUE(EventuallyTrue([&] { return Committed("t", "g") == 8; }));
  io.Run(consumer.Stop());
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(consumer.handled(), 8u);
}

TEST_P(EventLogContract, ConsumerRetriesAFailedEventWithoutSkippingIt) {
  for (int i = 1; i <= 5; ++i) Append("t", "k", "e" + std::to_string(i));
  IoThread& io = Background();
  std::mutex mu;
  std::vector<int64_t> seen;
  int failures_left = 2;
  EventConsumer consumer(log(), {.topic = "t", .group = "g", .retry_min_ms = 1, .retry_max_ms = 2},
                         [&](const Event& e) -> boost::asio::awaitable<core::Result<void>> {
                           std::lock_guard lock(mu);
                           seen.push_back(e.offset);
                           if (e.offset == 3 && failures_left > 0) {
                             --failures_left;
                             if (failures_left == 0) throw std::runtime_error("handler crashed");
                             co_return core::Error::Make(core::Errc::kUnavailable, "try again");
                           }
                           co_return core::Result<void>{};
                         });
  consumer.Start(io.io().get_executor());
  ASSERT_TRUE(EventuallyTrue([&] { return Committed("t", "g") == 5; }));
  io.Run(consumer.Stop());
  std::lock_guard lock(mu);
  // 1 and 2 are committed before the failure, so only 3 repeats.
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 3, 3, 4, 5}));
  EXPECT_EQ(consumer.failures(), 2u);
}

TEST_P(EventLogContract, BatchConsumerCommitsWholeBatchesAndRereadsAFailedOne) {
  for (int i = 1; i <= 7; ++i) Append("t", "k", "e" + std::to_string(i));
  IoThread& io = Background();
  std::mutex mu;
  std::vector<std::vector<int64_t>> batches;
  bool fail_once = true;
  EventConsumer consumer(log(), {.topic = "t", .group = "g", .batch_size = 4, .retry_min_ms = 1, .retry_max_ms = 2},
                         [&](const std::vector<Event>& batch) -> boost::asio::awaitable<core::Result<void>> {
                           std::lock_guard lock(mu);
                           std::vector<int64_t> offsets;
                           for (const auto& e : batch) offsets.push_back(e.offset);
                           batches.push_back(offsets);
                           if (offsets.front() == 5 && fail_once) {
                             fail_once = false;
                             co_return core::Error::Make(core::Errc::kUnavailable, "try again");
                           }
                           co_return core::Result<void>{};
                         });
  consumer.Start(io.io().get_executor());
  ASSERT_TRUE(EventuallyTrue([&] { return Committed("t", "g") == 7; }));
  io.Run(consumer.Stop());
  std::lock_guard lock(mu);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(batches[1], (std::vector<int64_t>{5, 6, 7}));
  EXPECT_EQ(batches[2], (std::vector<int64_t>{5, 6, 7}));  // the failed batch, read again whole
  EXPECT_EQ(consumer.handled(), 7u);
  EXPECT_EQ(consumer.failures(), 1u);
}

TEST_P(EventLogContract, ARestartedConsumerResumesAfterTheCommittedOffset) {
  for (int i = 1; i <= 4; ++i) Append("t", "k", "e" + std::to_string(i));
  ASSERT_TRUE(Commit("t", "g", 2));
  harness_->Restart();
  IoThread& io = Background();
  std::mutex mu;
  std::vector<int64_t> seen;
  EventConsumer consumer(log(), {.topic = "t", .group = "g"},
                         [&](const Event& e) -> boost::asio::awaitable<core::Result<void>> {
                           std::lock_guard lock(mu);
                           seen.push_back(e.offset);
                           co_return core::Result<void>{};
                         });
  consumer.Start(io.io().get_executor());
  ASSERT_TRUE(EventuallyTrue([&] { return Committed("t", "g") == 4; }));
  io.Run(consumer.Stop());
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, (std::vector<int64_t>{3, 4}));
}

TEST_P(EventLogContract, ReadAfterIsABroadcastReadWithoutAGroup) {
  for (int i = 1; i <= 5; ++i) Append("t", "k" + std::to_string(i), "e" + std::to_string(i));
  Append("other", "x", "y");
  auto read = [&](int64_t after, size_t max) {
    auto events = Await(log().ReadAfter("t", after, max));
    if (!events) throw std::runtime_error("read after failed: " + events.error().internal);
    return Offsets(*events);
  };
  EXPECT_EQ(read(0, 100), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(read(3, 100), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(read(1, 2), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(read(5, 100), (std::vector<int64_t>{}));
  // Reading as many times as wanted moves no group.
  EXPECT_EQ(Committed("t", "g"), 0);
  EXPECT_EQ(Await(log().ReadAfter("t", 4, 1))->front().key, "k5");
  EXPECT_FALSE(Await(log().ReadAfter("", 0, 1)));
}

TEST_P(EventLogContract, TailsSeeEveryEventAfterTheirStartAndRetryAFailedBatch) {
  Append("t", "k", "before");
  IoThread& io = Background();
  std::mutex mu;
  std::vector<int64_t> first_seen, second_seen;
  bool fail_once = true;
  auto recorder = [&](std::vector<int64_t>& seen, bool may_fail) {
    return [&seen, may_fail, &mu, &fail_once](const std::vector<Event>& batch)
               -> boost::asio::awaitable<core::Result<void>> {
      std::lock_guard lock(mu);
      if (may_fail && fail_once) {
        fail_once = false;
        co_return core::Error::Make(core::Errc::kUnavailable, "try again");
      }
      for (const auto& e : batch) seen.push_back(e.offset);
      co_return core::Result<void>{};
    };
  };
  // Two tails (two processes) both see every event; neither commits a group.
  EventTail first(log(), {.topic = "t", .retry_min_ms = 1, .retry_max_ms = 2}, recorder(first_seen, true));
  EventTail second(log(), {.topic = "t"}, recorder(second_seen, false));
  first.Start(io.io().get_executor(), End("t"));
  second.Start(io.io().get_executor(), End("t"));
  for (int i = 2; i <= 4; ++i) Append("t", "k", "e" + std::to_string(i));
  first.Notify();
  second.Notify();
  ASSERT_TRUE(EventuallyTrue([&] { return first.position() == 4 && second.position() == 4; }));
  io.Run(first.Stop());
  io.Run(second.Stop());
  std::lock_guard lock(mu);
  EXPECT_EQ(first_seen, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(second_seen, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(first.failures(), 1u);
  EXPECT_EQ(Committed("t", "g"), 0);
}

}  // namespace shopd::events::contract

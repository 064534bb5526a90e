// events: EventConsumer, which feeds one topic's events to a handler for one
// consumer group. Depends on core, obs and the EventLog interface.
//
// Reads a bounded batch after the group's committed offset, runs the handler
// on each event in order, and commits after the handlers succeeded: at least
// once, so handlers must be idempotent. A failing handler (error or
// exception) stops the batch there; what succeeded before it is committed and
// the failed event is retried after a growing backoff, keeping the order.
// Idle polls back off from idle_min_ms to idle_max_ms; Notify() (e.g. from the
// outbox relay's on_relayed) wakes the consumer at once.
//
//   EventConsumer saga(log, {.topic = "order.created", .group = "saga"},
//                      [&](const Event& e) -> Async<void> { co_return co_await Handle(e); });
//   saga.Start(io.get_executor());
//   co_await saga.Stop();
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "events/event_log.h"

namespace shopd::events {

namespace detail {
class PollLoop;
}

struct EventConsumerOptions {
  std::string topic{};
  std::string group{};
  size_t batch_size = 100;     // events per Read
  int64_t idle_min_ms = 5;     // empty-topic poll interval, doubling from this...
  int64_t idle_max_ms = 50;    // ...up to this
  int64_t retry_min_ms = 100;  // after a failed handler or log call, doubling from this...
  int64_t retry_max_ms = 5000; // ...up to this
};

class EventConsumer {
 public:
  using Handler = std::function<boost::asio::awaitable<core::Result<void>>(const Event&)>;

  // `log` must outlive the consumer's Stop(). The consumer owns timers on the
  // executor it is started on: destroy it before that execution context.
  EventConsumer(EventLog& log, EventConsumerOptions options, Handler handler);
  // Handles each read batch in one call (e.g. one group-committed write for
  // the whole batch); the batch is committed when it succeeds, re-read whole
  // when it fails.
  using BatchHandler = std::function<boost::asio::awaitable<core::Result<void>>(const std::vector<Event>&)>;
  EventConsumer(EventLog& log, EventConsumerOptions options, BatchHandler handler);
  // Asks a running consumer to stop; await Stop() first to also wait for it.
  ~EventConsumer();
  EventConsumer(const EventConsumer&) = delete;
  EventConsumer& operator=(const EventConsumer&) = delete;

  // Starts polling on a strand of `executor`; handlers run there, one at a time.
  void Start(boost::asio::any_io_executor executor);
  // Polls at once. Any thread, after Start.
  void Notify();
  // Completes when the loop has returned; the batch in flight is committed up
  // to the last handled event first. Any executor.
  boost::asio::awaitable<void> Stop();

  uint64_t handled() const;   // handler successes
  uint64_t failures() const;  // handler failures (each is retried)

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::shared_ptr<detail::PollLoop> loop_;
};

}  // namespace shopd::events

// events: EventTail, which feeds one topic's events after a starting offset to
// a handler, for no consumer group: each process that runs a tail sees every
// event, keeps its position in memory and commits nothing. Built for
// broadcasts such as "this product changed, drop your cached copy", where a
// restarted process starts at the end (it has nothing cached from before).
// Depends on core, obs and the EventLog interface.
//
// Batches arrive in offset order. A failing handler (error or exception) gets
// the same batch again after a growing backoff, so no event is skipped. Idle
// polls back off from idle_min_ms to idle_max_ms: that bounds how long an
// event waits for this tail once it is in the log. Notify() polls at once.
//
//   EventTail tail(log, {.topic = "product.changed"}, [&](const std::vector<Event>& batch) -> Async<void> {...});
//   tail.Start(io.get_executor(), *log.EndOffset("product.changed"));
//   co_await tail.Stop();
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "events/event_log.h"

namespace shopd::events {

namespace detail {
class PollLoop;
}

struct EventTailOptions {
  std::string topic{};
  size_t batch_size = 256;     // events per ReadAfter
  int64_t idle_min_ms = 5;     // empty-topic poll interval, doubling from this...
  int64_t idle_max_ms = 50;    // ...up to this
  int64_t retry_min_ms = 100;  // after a failed handler or read, doubling from this...
  int64_t retry_max_ms = 5000; // ...up to this
};

class EventTail {
 public:
  using BatchHandler = std::function<boost::asio::awaitable<core::Result<void>>(const std::vector<Event>&)>;

  // `log` must outlive the tail's Stop(). The tail owns timers on the
  // executor it is started on: destroy it before that execution context.
  EventTail(EventLog& log, EventTailOptions options, BatchHandler handler);
  // Asks a running tail to stop; await Stop() first to also wait for it.
  ~EventTail();
  EventTail(const EventTail&) = delete;
  EventTail& operator=(const EventTail&) = delete;

  // Starts reading the events after `after_offset` on a strand of `executor`;
  // the handler runs there, one batch at a time. Call once.
  void Start(boost::asio::any_io_executor executor, int64_t after_offset);
  // Polls at once. Any thread, after Start.
  void Notify();
  // Completes when the loop has returned. Any executor.
  boost::asio::awaitable<void> Stop();

  int64_t position() const;   // the last offset handled; any thread
  uint64_t failures() const;  // failed reads and handler runs (each retried)

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::shared_ptr<detail::PollLoop> loop_;
};

}  // namespace shopd::events

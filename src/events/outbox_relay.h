// events: the outbox relay, which moves committed outbox rows (storage/sqlite/sqlite_outbox.h)
// into an EventLog, oldest first, at least once. Depends on core and obs.
//
// A backend implements RelayOnce (one bounded batch); this base class runs it
// in a loop on an executor: at once after Notify() (e.g. when an order was
// accepted), otherwise every poll_interval_ms, and again without waiting while
// full batches keep coming.
//
//   SqliteOutboxRelay relay(*db, pool, event_log, {.on_relayed = [&] { consumer.Notify(); }});
//   relay.Start(io.get_executor());
//   ... relay.Notify();
//   co_await relay.Stop();   // lets the current batch finish
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/error.h"
#include "events/event_log.h"

namespace shopd::events {

namespace detail {
class PollLoop;
}

struct OutboxRelayOptions {
  size_t batch_size = 500;         // rows per RelayOnce
  int64_t poll_interval_ms = 10;   // between passes that found less than a batch
  int64_t error_backoff_ms = 200;  // after a failed pass (database busy, log down)
  // Runs on the relay's strand after a pass moved rows (e.g. wake consumers).
  std::function<void()> on_relayed{};
};

class OutboxRelay {
 public:
  explicit OutboxRelay(OutboxRelayOptions options);
  // Asks a running loop to stop; await Stop() before destroying the relay,
  // and destroy it before the execution context it was started on.
  virtual ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Moves up to batch_size committed rows into the log and returns how many.
  virtual Async<size_t> RelayOnce() = 0;

  // Runs RelayOnce in a loop on `executor` until Stop. Call once.
  void Start(boost::asio::any_io_executor executor);
  // Runs a pass at once. Any thread, after Start.
  void Notify();
  // Completes when the loop has returned (after the batch in flight). Any executor.
  boost::asio::awaitable<void> Stop();

  uint64_t relayed() const { return relayed_.load(); }  // rows moved by the loop
  const OutboxRelayOptions& options() const { return options_; }

 private:
  static boost::asio::awaitable<void> Loop(std::shared_ptr<detail::PollLoop> loop, OutboxRelay* relay);

  const OutboxRelayOptions options_;
  std::shared_ptr<detail::PollLoop> loop_;
  std::atomic<uint64_t> relayed_{0};
};

}  // namespace shopd::events

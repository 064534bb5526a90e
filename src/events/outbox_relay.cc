#include "events/outbox_relay.h"

#include <boost/asio/co_spawn.hpp>

#include "events/detail/poll_loop.h"
#include "obs/log.h"

namespace shopd::events {

namespace asio = boost::asio;

OutboxRelay::OutboxRelay(OutboxRelayOptions options) : options_(std::move(options)) {}

OutboxRelay::~OutboxRelay() {
  // The loop calls RelayOnce on this object: it must have stopped already.
  // This only keeps a forgotten Stop from polling on forever.
  if (loop_) loop_->RequestStop();
}

void OutboxRelay::Start(asio::any_io_executor executor) {
  if (loop_) return;
  loop_ = std::make_shared<detail::PollLoop>(executor, "outbox_relay");
  loop_->Start(Loop(loop_, this));
}

void OutboxRelay::Notify() {
  if (loop_) loop_->Kick();
}

asio::awaitable<void> OutboxRelay::Stop() {
  if (!loop_) co_return;
  auto loop = loop_;
  co_await loop->Stop();
}

asio::awaitable<void> OutboxRelay::Loop(std::shared_ptr<detail::PollLoop> loop, OutboxRelay* relay) {
  const OutboxRelayOptions& o = relay->options_;
  while (!loop->stopping()) {
    core::Result<size_t> moved = co_await relay->RelayOnce();
    if (!moved) {
      obs::LogWarn("outbox_relay_failed", {{"error", moved.error().message}, {"detail", moved.error().internal}});
      co_await loop->Sleep(o.error_backoff_ms, /*kickable=*/false);
      continue;
    }
    if (*moved > 0) {
      relay->relayed_ += *moved;
      if (o.on_relayed) o.on_relayed();
    }
    // A full batch suggests more rows are waiting.
    if (*moved < o.batch_size) co_await loop->Sleep(o.poll_interval_ms);
  }
}

}  // namespace shopd::events

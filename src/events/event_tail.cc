#include "events/event_tail.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <utility>

#include "events/detail/poll_loop.h"
#include "obs/log.h"

namespace shopd::events {

namespace asio = boost::asio;

struct EventTail::State {
  State(EventTailOptions o, EventLog& l, BatchHandler h) : options(std::move(o)), log(l), handler(std::move(h)) {
    options.batch_size = std::max<size_t>(options.batch_size, 1);
    options.idle_min_ms = std::max<int64_t>(options.idle_min_ms, 1);
    options.idle_max_ms = std::max(options.idle_max_ms, options.idle_min_ms);
    options.retry_min_ms = std::max<int64_t>(options.retry_min_ms, 1);
    options.retry_max_ms = std::max(options.retry_max_ms, options.retry_min_ms);
  }

  static asio::awaitable<void> Loop(std::shared_ptr<detail::PollLoop> loop, std::shared_ptr<State> self);

  // Runs the handler, turning an exception into an error.
  asio::awaitable<core::Result<void>> Handle(const std::vector<Event>& batch) {
    try {
      co_return co_await handler(batch);
    } catch (const std::exception& e) {
      co_return core::Error::Make(core::Errc::kInternal, "handler threw", e.what());
    }
  }

  EventTailOptions options;
  EventLog& log;
  const BatchHandler handler;
  std::atomic<int64_t> position{0};
  std::atomic<uint64_t> failures{0};
};

asio::awaitable<void> EventTail::State::Loop(std::shared_ptr<detail::PollLoop> loop, std::shared_ptr<State> self) {
  const EventTailOptions& o = self->options;
  int64_t idle_ms = o.idle_min_ms;
  int64_t retry_ms = o.retry_min_ms;
  while (!loop->stopping()) {
    core::Result<std::vector<Event>> batch = co_await self->log.ReadAfter(o.topic, self->position, o.batch_size);
    core::Result<void> outcome;
    if (!batch) {
      outcome = batch.error();
    } else if (batch->empty()) {
      co_await loop->Sleep(idle_ms);
      idle_ms = std::min(idle_ms * 2, o.idle_max_ms);
      continue;
    } else {
      idle_ms = o.idle_min_ms;
      outcome = co_await self->Handle(*batch);
    }
    if (outcome) {
      self->position = batch->back().offset;
      retry_ms = o.retry_min_ms;
      continue;
    }
    ++self->failures;
    obs::LogWarn("event_tail_failed", {{"topic", o.topic},
                                       {"after_offset", self->position.load()},
                                       {"error", outcome.error().message},
                                       {"detail", outcome.error().internal}});
    co_await loop->Sleep(retry_ms, /*kickable=*/false);
    retry_ms = std::min(retry_ms * 2, o.retry_max_ms);
  }
}

EventTail::EventTail(EventLog& log, EventTailOptions options, BatchHandler handler)
    : state_(std::make_shared<State>(std::move(options), log, std::move(handler))) {}

EventTail::~EventTail() {
  if (loop_) loop_->RequestStop();
}

void EventTail::Start(asio::any_io_executor executor, int64_t after_offset) {
  if (loop_) return;
  state_->position = after_offset;
  loop_ = std::make_shared<detail::PollLoop>(executor, "event_tail");
  loop_->Start(State::Loop(loop_, state_));
}

void EventTail::Notify() {
  if (loop_) loop_->Kick();
}

asio::awaitable<void> EventTail::Stop() {
  if (!loop_) co_return;
  auto loop = loop_;
  co_await loop->Stop();
}

int64_t EventTail::position() const { return state_->position.load(); }
uint64_t EventTail::failures() const { return state_->failures.load(); }

}  // namespace shopd::events

#include "events/consumer.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <utility>

#include "events/detail/poll_loop.h"
#include "obs/log.h"

namespace shopd::events {

namespace asio = boost::asio;

struct EventConsumer::State {
  State(EventConsumerOptions o, EventLog& l, Handler h, BatchHandler b = {})
      : options(std::move(o)), log(l), handler(std::move(h)), batch_handler(std::move(b)) {
    options.batch_size = std::max<size_t>(options.batch_size, 1);
    options.idle_min_ms = std::max<int64_t>(options.idle_min_ms, 1);
    options.idle_max_ms = std::max(options.idle_max_ms, options.idle_min_ms);
    options.retry_min_ms = std::max<int64_t>(options.retry_min_ms, 1);
    options.retry_max_ms = std::max(options.retry_max_ms, options.retry_min_ms);
  }

  static asio::awaitable<void> Loop(std::shared_ptr<detail::PollLoop> loop, std::shared_ptr<State> self);

  EventConsumerOptions options;
  EventLog& log;
  const Handler handler;
  const BatchHandler batch_handler;
  std::atomic<uint64_t> handled{0};
  std::atomic<uint64_t> failures{0};
};

asio::awaitable<void> EventConsumer::State::Loop(std::shared_ptr<detail::PollLoop> loop,
                                                 std::shared_ptr<State> self) {
  const EventConsumerOptions& o = self->options;
  int64_t idle_ms = o.idle_min_ms;
  int64_t retry_ms = o.retry_min_ms;
  while (!loop->stopping()) {
    core::Result<std::vector<Event>> batch = co_await self->log.Read(o.topic, o.group, o.batch_size);
    if (!batch) {
      obs::LogWarn("event_read_failed", {{"topic", o.topic},
                                         {"group", o.group},
                                         {"error", batch.error().message},
                                         {"detail", batch.error().internal}});
      co_await loop->Sleep(retry_ms, /*kickable=*/false);
      retry_ms = std::min(retry_ms * 2, o.retry_max_ms);
      continue;
    }
    if (batch->empty()) {
      co_await loop->Sleep(idle_ms);
      idle_ms = std::min(idle_ms * 2, o.idle_max_ms);
      continue;
    }
    idle_ms = o.idle_min_ms;

    int64_t handled_up_to = 0;
    bool failed = false;
    if (self->batch_handler && !loop->stopping()) {
      core::Result<void> outcome = core::Error::Make(core::Errc::kInternal, "handler did not run");
      try {
        outcome = co_await self->batch_handler(*batch);
      } catch (const std::exception& e) {
        outcome = core::Error::Make(core::Errc::kInternal, "handler threw", e.what());
      }
      if (outcome) {
        self->handled += batch->size();
        handled_up_to = batch->back().offset;
      } else {
        ++self->failures;
        obs::LogWarn("event_handler_failed", {{"topic", o.topic},
                                              {"group", o.group},
                                              {"offset", batch->front().offset},
                                              {"error", outcome.error().message},
                                              {"detail", outcome.error().internal}});
        failed = true;
      }
    }
    for (const Event& event : *batch) {
      if (self->batch_handler || loop->stopping()) break;
      core::Result<void> outcome = core::Error::Make(core::Errc::kInternal, "handler did not run");
      try {
        outcome = co_await self->handler(event);
      } catch (const std::exception& e) {
        outcome = core::Error::Make(core::Errc::kInternal, "handler threw", e.what());
      } catch (...) {
        outcome = core::Error::Make(core::Errc::kInternal, "handler threw", "unknown exception");
      }
      if (!outcome) {
        ++self->failures;
        obs::LogWarn("event_handler_failed", {{"topic", o.topic},
                                              {"group", o.group},
                                              {"offset", event.offset},
                                              {"error", outcome.error().message},
                                              {"detail", outcome.error().internal}});
        failed = true;
        break;
      }
      ++self->handled;
      handled_up_to = event.offset;
    }

    if (handled_up_to > 0) {
      core::Result<void> committed = co_await self->log.Commit(o.topic, o.group, handled_up_to);
      if (!committed) {
        // The events are handled again after the retry: at least once.
        obs::LogWarn("event_commit_failed", {{"topic", o.topic},
                                             {"group", o.group},
                                             {"offset", handled_up_to},
                                             {"error", committed.error().message},
                                             {"detail", committed.error().internal}});
        failed = true;
      }
    }
    if (failed) {
      co_await loop->Sleep(retry_ms, /*kickable=*/false);
      retry_ms = std::min(retry_ms * 2, o.retry_max_ms);
    } else {
      retry_ms = o.retry_min_ms;
    }
  }
}

EventConsumer::EventConsumer(EventLog& log, EventConsumerOptions options, Handler handler)
    : state_(std::make_shared<State>(std::move(options), log, std::move(handler))) {}

EventConsumer::EventConsumer(EventLog& log, EventConsumerOptions options, BatchHandler handler)
    : state_(std::make_shared<State>(std::move(options), log, Handler{}, std::move(handler))) {}

EventConsumer::~EventConsumer() {
  if (loop_) loop_->RequestStop();
}

void EventConsumer::Start(asio::any_io_executor executor) {
  if (loop_) return;
  loop_ = std::make_shared<detail::PollLoop>(executor, "event_consumer");
  loop_->Start(State::Loop(loop_, state_));
}

void EventConsumer::Notify() {
  if (loop_) loop_->Kick();
}

asio::awaitable<void> EventConsumer::Stop() {
  if (!loop_) co_return;
  auto loop = loop_;
  co_await loop->Stop();
}

uint64_t EventConsumer::handled() const { return state_->handled.load(); }
uint64_t EventConsumer::failures() const { return state_->failures.load(); }

}  // namespace shopd::events

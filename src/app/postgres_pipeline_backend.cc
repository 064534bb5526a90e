#include "app/postgres_pipeline_backend.h"

#include <utility>
#include <vector>

#include "events/postgres/pg_outbox_relay.h"

namespace shopd::app {

PostgresPipelineBackend::PostgresPipelineBackend(storage::postgres::PgPool& pool, std::string conninfo,
                                                 const core::Clock& clock, queue::JobQueueOptions queue_options)
    : pool_(pool),
      conninfo_(std::move(conninfo)),
      event_log_(pool, clock),
      jobs_(pool, clock, std::move(queue_options)) {}

std::unique_ptr<events::OutboxRelay> PostgresPipelineBackend::MakeRelay(events::OutboxRelayOptions options) {
  return std::make_unique<events::postgres::PgOutboxRelay>(pool_, event_log_, std::move(options));
}

boost::asio::awaitable<core::Result<size_t>> PostgresPipelineBackend::TrimEvents(int64_t cutoff_ms, size_t max_rows) {
  return event_log_.Trim(cutoff_ms, max_rows);
}

core::Result<void> PostgresPipelineBackend::WatchCommits(boost::asio::any_io_executor executor,
                                                         std::function<void()> wake) {
  std::vector<std::string> channels{events::postgres::kEventsChannel};
  listener_.emplace(executor, conninfo_, std::move(channels), std::move(wake));
  listener_->Start();
  return {};
}

boost::asio::awaitable<void> PostgresPipelineBackend::StopWatching() {
  if (listener_) co_await listener_->Stop();
}

}  // namespace shopd::app

#include "app/order_pipeline.h"

#include <pthread.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "events/consumer.h"
#include "events/event_tail.h"
#include "exec/await_blocking.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "queue/worker.h"
#include "workers/order_refund.h"
#include "workers/order_saga.h"
#include "workers/payment_provider.h"

namespace shopd::app {
namespace {

namespace asio = boost::asio;

constexpr const char* kSagaQueue = "order-saga";
// Writes wake the loops: in this process by a direct call, from other
// processes through the change watcher. Work no write announces (a retry
// whose backoff ran out, a lease that expired) is slept until by the job
// workers (JobQueue::NextDueInMs). The timers left are a safety net.
// Where the backend cannot tell of other processes' commits, loops poll.
constexpr int64_t kEventSafetyNetMs = 10'000;
constexpr int64_t kJobSafetyNetMs = 30'000;
constexpr int64_t kPollingIdleMaxMs = 50;
constexpr int64_t kPollingRelayMs = 10;
constexpr const char* kRefundQueue = "order-refund";
// Old events go in rounds of at most this many, once a minute.
constexpr size_t kTrimBatch = 10'000;

obs::Counter& RefundCounter(obs::MetricsRegistry& metrics, const char* outcome) {
  return metrics.GetCounter("shopd_order_refunds_total",
                            "Refund attempts of cancelled orders (failed ones are retried with backoff).",
                            {{"outcome", outcome}});
}

obs::Counter& FinishedCounter(obs::MetricsRegistry& metrics, const char* status) {
  return metrics.GetCounter("shopd_orders_finished_total", "Orders the saga moved to a final status.",
                            {{"status", status}});
}

}  // namespace

// Relays the outbox when a product write committed in this process (an admin
// update writes its `product.changed` row there), so that the other
// processes' caches hear of it at once.
class RelayOnProductChange final : public storage::ProductChangeListener {
 public:
  explicit RelayOnProductChange(std::function<void()> relay) : relay_(std::move(relay)) {}
  asio::awaitable<void> ProductsChanged(std::vector<std::string>) override {
    relay_();
    co_return;
  }

 private:
  std::function<void()> relay_;
};

// Members are built in dependency order and destroyed in reverse; every loop
// runs on `background`, and lambdas capture this Impl (heap-allocated, so its
// address is stable).
struct OrderPipeline::Impl {
  Impl(PipelineBackend& backend, storage::OrderStore& orders, const workers::WorkersConfig& c,
       obs::MetricsRegistry& metrics, const core::Clock& clock, storage::ProductChangeListener* product_changes)
      : config(c),
        clock(clock),
        backend(backend),
        watching(StartWatching()),
        event_log(backend.event_log()),
        jobs(backend.jobs()),
        payments(workers::SimulatedPaymentOptions{c.payment_decline_rate,
                                                  std::chrono::milliseconds(c.payment_latency_ms),
                                                  c.payment_failing_refunds}),
        saga(orders, payments, clock, std::chrono::milliseconds(c.payment_timeout_ms)),
        refund(orders, payments, clock, std::chrono::milliseconds(c.payment_timeout_ms)),
        confirmed(FinishedCounter(metrics, "confirmed")),
        rejected(FinishedCounter(metrics, "rejected")),
        refunded(RefundCounter(metrics, "refunded")),
        refund_failed(RefundCounter(metrics, "failed")),
        product_changes(product_changes),
        saga_worker(jobs,
                    queue::JobWorkerOptions{.queue = kSagaQueue,
                                            .concurrency = static_cast<size_t>(c.workers),
                                            .lease_ms = c.job_lease_ms,
                                            .idle_max_ms = JobIdleMaxMs()},
                    [this](const queue::LeasedJob& job) { return RunSaga(job); }),
        // Each order.created event becomes one saga job, a whole read batch in
        // one group-committed write; the order id dedupes redelivered events,
        // and the saga itself is idempotent on top of that.
        created_consumer(event_log,
                         events::EventConsumerOptions{.topic = "order.created",
                                                      .group = "order-saga",
                                                      .batch_size = 256,
                                                      .idle_max_ms = EventIdleMaxMs()},
                         [this](const std::vector<events::Event>& batch) { return EnqueueSagas(batch); }),
        refund_worker(jobs,
                      queue::JobWorkerOptions{.queue = kRefundQueue,
                                              .concurrency = 16,
                                              .lease_ms = c.job_lease_ms,
                                              .idle_max_ms = JobIdleMaxMs()},
                      [this](const queue::LeasedJob& job) { return RunRefund(job); }),
        // Each refund request becomes one refund job, deduplicated by order id.
        refund_consumer(event_log,
                        events::EventConsumerOptions{
                            .topic = std::string(storage::kRefundRequestedTopic),
                            .group = "order-refund",
                            .batch_size = 256,
                            .idle_max_ms = EventIdleMaxMs()},
                        [this](const std::vector<events::Event>& batch) { return EnqueueRefunds(batch); }),
        product_tail(event_log, events::EventTailOptions{.topic = std::string(storage::kProductChangedTopic),
                                              .idle_max_ms = EventIdleMaxMs()},
                     [this](const std::vector<events::Event>& batch) { return AnnounceProducts(batch); }),
        relay(backend.MakeRelay(RelayOptions())),
        trim_timer(background) {}

  // A step's writes carry outbox rows (order.confirmed, product.changed, ...):
  // they are relayed at once, whether or not the backend hears its own commits.
  asio::awaitable<core::Result<void>> RunSaga(const queue::LeasedJob& job) {
    auto finished = co_await saga.Run(job.payload);
    relay->Notify();
    if (!finished) co_return finished.error();
    if (*finished == storage::OrderStatus::kConfirmed) confirmed.Inc();
    if (*finished == storage::OrderStatus::kRejected) rejected.Inc();
    co_return core::Result<void>{};
  }

  asio::awaitable<core::Result<void>> RunRefund(const queue::LeasedJob& job) {
    auto done = co_await refund.Run(job.payload);
    relay->Notify();
    if (!done) {
      refund_failed.Inc();
      co_return done.error();
    }
    if (*done) refunded.Inc();
    co_return core::Result<void>{};
  }

  asio::awaitable<core::Result<void>> EnqueueRefunds(const std::vector<events::Event>& batch) {
    std::vector<queue::EnqueueRequest> requests;
    requests.reserve(batch.size());
    for (const auto& e : batch)
      requests.push_back(queue::EnqueueRequest{.queue = kRefundQueue,
                                               .payload = e.key,
                                               .max_attempts = static_cast<int>(config.refund_max_attempts),
                                               .dedupe_key = e.key});
    auto ids = co_await jobs.EnqueueBatch(std::move(requests));
    if (!ids) co_return ids.error();
    refund_worker.Notify();
    co_return core::Result<void>{};
  }

  // Products changed in any process: this process drops its cached copies.
  asio::awaitable<core::Result<void>> AnnounceProducts(const std::vector<events::Event>& batch) {
    std::vector<std::string> ids;
    ids.reserve(batch.size());
    for (const auto& e : batch)
      if (std::find(ids.begin(), ids.end(), e.key) == ids.end()) ids.push_back(e.key);
    if (product_changes) co_await product_changes->ProductsChanged(std::move(ids));
    co_return core::Result<void>{};
  }

  asio::awaitable<core::Result<void>> EnqueueSagas(const std::vector<events::Event>& batch) {
    std::vector<queue::EnqueueRequest> requests;
    requests.reserve(batch.size());
    for (const auto& e : batch) {
      queue::EnqueueRequest job;
      job.queue = kSagaQueue;
      job.payload = e.key;
      job.dedupe_key = e.key;
      requests.push_back(std::move(job));
    }
    auto ids = co_await jobs.EnqueueBatch(std::move(requests));
    if (!ids) co_return ids.error();
    saga_worker.Notify();
    co_return core::Result<void>{};
  }

  // Its callback runs on `background` once that runs, after every loop exists.
  bool StartWatching() {
    auto started = backend.WatchCommits(background.get_executor(), [this] { WakeLoops(); });
    if (!started)
      obs::LogWarn("database change notifications unavailable; background loops poll",
                   {{"error", started.error().message}, {"detail", started.error().internal}});
    return started.has_value();
  }
  int64_t EventIdleMaxMs() const { return watching ? kEventSafetyNetMs : kPollingIdleMaxMs; }
  int64_t JobIdleMaxMs() const { return watching ? kJobSafetyNetMs : kPollingIdleMaxMs; }

  // Some process committed: whichever loop has work finds it.
  void WakeLoops() {
    relay->Notify();
    created_consumer.Notify();
    refund_consumer.Notify();
    product_tail.Notify();
    saga_worker.Notify();
    refund_worker.Notify();
  }

  events::OutboxRelayOptions RelayOptions() {
    events::OutboxRelayOptions o;
    o.poll_interval_ms = watching ? kEventSafetyNetMs : kPollingRelayMs;
    o.on_relayed = [this] {
      created_consumer.Notify();
      refund_consumer.Notify();
      product_tail.Notify();
    };
    return o;
  }

  // The event log is append-only; trimming old events keeps it bounded on disk.
  asio::awaitable<void> TrimLoop() {
    for (;;) {
      trim_timer.expires_after(std::chrono::seconds(60));
      auto [ec] = co_await trim_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      const int64_t cutoff = clock.UnixMillis() - config.event_retention_s * 1000;
      auto trimmed = co_await backend.TrimEvents(cutoff, kTrimBatch);
      if (!trimmed) obs::LogWarn("event trim failed", {{"error", trimmed.error().message}});
    }
  }

  // Every loop, in the order they start: consumers before what feeds them,
  // so nothing is produced for a loop that is not running yet. They stop in
  // the reverse order, producers first.
  struct Loop {
    const char* name;
    std::function<void(asio::any_io_executor)> start;
    std::function<asio::awaitable<void>()> stop;
  };
  std::vector<Loop> Loops(int64_t product_start_offset) {
    return {
        {"order-saga worker", [this](auto ex) { saga_worker.Start(ex); }, [this] { return saga_worker.Stop(); }},
        {"order.created consumer", [this](auto ex) { created_consumer.Start(ex); },
         [this] { return created_consumer.Stop(); }},
        {"order-refund worker", [this](auto ex) { refund_worker.Start(ex); }, [this] { return refund_worker.Stop(); }},
        {"order.refund_requested consumer", [this](auto ex) { refund_consumer.Start(ex); },
         [this] { return refund_consumer.Stop(); }},
        {"product.changed tail", [this, product_start_offset](auto ex) { product_tail.Start(ex, product_start_offset); },
         [this] { return product_tail.Stop(); }},
        {"outbox relay", [this](auto ex) { relay->Start(ex); }, [this] { return relay->Stop(); }},
    };
  }

  void StartLoops(int64_t product_start_offset) {
    loops = Loops(product_start_offset);
    for (Loop& loop : loops) loop.start(background.get_executor());
    asio::co_spawn(background, TrimLoop(), asio::detached);
  }

  asio::awaitable<void> StopLoops() {
    trim_timer.cancel();
    for (auto it = loops.rbegin(); it != loops.rend(); ++it) {
      co_await it->stop();
      obs::LogDebug("background loop stopped", {{"loop", it->name}});
    }
    // Last: until here a commit still wakes whichever loop is left.
    co_await backend.StopWatching();
  }

  const workers::WorkersConfig config;
  const core::Clock& clock;
  PipelineBackend& backend;
  asio::io_context background{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(background);
  const bool watching;
  events::EventLog& event_log;
  queue::JobQueue& jobs;
  workers::SimulatedPaymentProvider payments;
  workers::OrderSaga saga;
  workers::OrderRefund refund;
  obs::Counter& confirmed;
  obs::Counter& rejected;
  obs::Counter& refunded;
  obs::Counter& refund_failed;
  storage::ProductChangeListener* product_changes;
  queue::JobWorker saga_worker;
  events::EventConsumer created_consumer;
  queue::JobWorker refund_worker;
  events::EventConsumer refund_consumer;
  events::EventTail product_tail;
  std::unique_ptr<events::OutboxRelay> relay;
  RelayOnProductChange relay_on_product_change{[this] { relay->Notify(); }};
  asio::steady_timer trim_timer;
  std::vector<Loop> loops;  // as started
  std::thread thread;
  bool started = false;
  bool stopped = false;
};

queue::JobQueueOptions OrderPipeline::QueueOptions(const workers::WorkersConfig& config) {
  queue::JobQueueOptions o;
  o.default_max_attempts = static_cast<int>(config.job_max_attempts);
  return o;
}

OrderPipeline::OrderPipeline(PipelineBackend& backend, storage::OrderStore& orders,
                             const workers::WorkersConfig& config, obs::MetricsRegistry& metrics,
                             const core::Clock& clock, storage::ProductChangeListener* product_changes)
    : impl_(std::make_unique<Impl>(backend, orders, config, metrics, clock, product_changes)) {}

OrderPipeline::~OrderPipeline() { Stop(); }

void OrderPipeline::Start() {
  Impl& p = *impl_;
  if (p.started) return;
  p.started = true;
  // From the log's end as it is before this process serves anything: every
  // change after it can concern a product this process will cache. Read here,
  // at start-up, off any reactor; if it fails, from the start (dropping cache
  // entries that do not exist yet is harmless).
  auto product_end = exec::AwaitBlocking(p.event_log.EndOffset(std::string(storage::kProductChangedTopic)));
  if (!product_end) obs::LogWarn("product change tail starts at 0", {{"error", product_end.error().message}});
  p.StartLoops(product_end ? *product_end : 0);
  p.thread = std::thread([&p] {
    pthread_setname_np(pthread_self(), "shopd-bg");
    p.background.run();
  });
}

void OrderPipeline::OutboxWritten() { impl_->relay->Notify(); }

storage::ProductChangeListener& OrderPipeline::relay_on_product_change() { return impl_->relay_on_product_change; }

void OrderPipeline::Stop() {
  Impl& p = *impl_;
  if (!p.started || p.stopped) return;
  p.stopped = true;
  // Each loop finishes what it holds; then the io_context runs out of work.
  asio::co_spawn(p.background, p.StopLoops(), [&p](std::exception_ptr) { p.guard.reset(); });
  p.thread.join();
}

}  // namespace shopd::app

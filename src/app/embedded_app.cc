#include "app/embedded_app.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

#include "app/openapi.h"
#include "app/ops_routes.h"
#include "cache/memory/memory_cache.h"
#include "events/consumer.h"
#include "events/sqlite/sqlite_event_log.h"
#include "events/sqlite/sqlite_outbox_relay.h"
#include "queue/sqlite/sqlite_job_queue.h"
#include "queue/worker.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/http_routes.h"
#include "services/orders/http_routes.h"
#include "services/orders/orders_service.h"
#include "storage/sqlite/sqlite_catalog_store.h"
#include "storage/sqlite/sqlite_order_store.h"
#include "workers/order_saga.h"
#include "workers/payment_provider.h"
#include "auth/jwt.h"
#include "core/clock.h"
#include "exec/worker_pool.h"
#include "http/middleware/cors.h"
#include "http/middleware/observability.h"
#include "http/middleware/request_id.h"
#include "http/middleware/security_headers.h"
#include "http/router.h"
#include "http/server.h"
#include "obs/access_log.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/process_metrics.h"
#include "ratelimit/memory/memory_rate_limiter.h"
#include "services/users/http_routes.h"
#include "services/users/token_authenticator.h"
#include "services/users/users_service.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_user_store.h"

namespace shopd::app {
namespace {

namespace asio = boost::asio;

template <class T>
T RunToCompletion(asio::awaitable<T> task) {
  asio::io_context io;
  auto fut = asio::co_spawn(io, std::move(task), asio::use_future);
  io.run();
  return fut.get();
}

core::Result<std::unique_ptr<storage::sqlite::SqliteDatabase>> OpenDatabase(const Settings& s) {
  storage::sqlite::SqliteOptions opts;
  opts.data_dir = s.app.data_dir;
  return storage::sqlite::SqliteDatabase::Open(opts);
}

}  // namespace

core::Result<void> Bootstrap(const Settings& s) {
  auto db = OpenDatabase(s);  // applies migrations
  if (!db) return db.error();
  const char* email = std::getenv("SHOPD_ADMIN_EMAIL");
  const char* password = std::getenv("SHOPD_ADMIN_PASSWORD");
  if (!email || !*email) return {};
  if (!password || !*password)
    return core::Error::Invalid("SHOPD_ADMIN_EMAIL is set but SHOPD_ADMIN_PASSWORD is not");
  exec::WorkerPool pool(1, 16, "shopd-boot");
  storage::sqlite::SqliteUserStore store(**db, pool);
  ratelimit::MemoryRateLimiter limiter(core::SystemClock::Instance());
  auth::JwtCodec jwt(s.jwt_secret);
  services::UsersService users(s.users, store, limiter, pool, jwt, core::SystemClock::Instance());
  auto admin = RunToCompletion(users.EnsureAdmin(email, password));
  if (!admin) return admin.error();
  obs::LogInfo("admin ensured", {{"email", admin->email}, {"id", admin->id}});
  return {};
}

int ServeEmbedded(const Settings& s) {
  const core::Clock& clock = core::SystemClock::Instance();
  obs::MetricsRegistry metrics;
  obs::RegisterProcessMetrics(metrics);
  obs::AccessLogConfig access_cfg;
  access_cfg.enabled = s.app.access_log;
  obs::AccessLog access_log(access_cfg, metrics);

  auto db = OpenDatabase(s);
  if (!db) {
    obs::LogError("cannot open database", {{"error", db.error().message}, {"detail", db.error().internal}});
    return 1;
  }
  exec::WorkerPool pool(static_cast<size_t>(s.app.db_threads), static_cast<size_t>(s.app.db_queue), "shopd-db");
  metrics.AddCallbackGauge("shopd_worker_pool_queued", "Blocking tasks waiting for a pool thread.", {},
                           [&pool] { return static_cast<double>(pool.queued()); });
  metrics.AddCallbackCounter("shopd_worker_pool_rejected_total", "Blocking tasks refused because the queue was full.",
                             {}, [&pool] { return static_cast<double>(pool.rejected()); });
  storage::sqlite::SqliteUserStore store(**db, pool);
  ratelimit::MemoryRateLimiter limiter(clock);
  auth::JwtCodec jwt(s.jwt_secret);
  services::UsersService users(s.users, store, limiter, pool, jwt, clock);
  services::TokenAuthenticator authenticator(jwt, clock);

  // Catalog: cache-aside reads over the SQLite catalog.
  cache::MemoryCache product_cache(
      clock,
      cache::MemoryCacheOptions{.max_entries = static_cast<size_t>(s.catalog.cache_max_entries),
                                .max_bytes = static_cast<size_t>(s.catalog.cache_max_bytes)},
      &metrics, "products");
  storage::sqlite::SqliteCatalogStore catalog_store(**db, pool);
  services::CatalogService catalog(catalog_store, product_cache, clock,
                                   std::chrono::milliseconds(s.catalog.cache_ttl_ms));

  // Orders and their asynchronous path: outbox -> event log -> saga jobs -> workers.
  // Background work runs on its own io_context thread, away from the reactors.
  boost::asio::io_context background(1);
  auto background_guard = boost::asio::make_work_guard(background);
  storage::sqlite::SqliteWriter writer(**db);
  metrics.AddCallbackCounter("shopd_sqlite_group_commits_total", "Write transactions the SQLite writer committed.", {},
                             [&writer] { return static_cast<double>(writer.commits()); });
  metrics.AddCallbackCounter("shopd_sqlite_group_writes_total",
                             "Writes committed by the SQLite writer (writes / commits = mean group size).", {},
                             [&writer] { return static_cast<double>(writer.writes()); });
  storage::sqlite::SqliteOrderStore order_store(**db, pool, writer);
  events::sqlite::SqliteEventLog event_log(**db, pool, clock);
  event_log.UseWriter(&writer);
  queue::JobQueueOptions queue_options;
  queue_options.default_max_attempts = static_cast<int>(s.workers.job_max_attempts);
  queue::sqlite::SqliteJobQueue jobs(**db, pool, clock, queue_options);
  jobs.UseWriter(&writer);
  workers::SimulatedPaymentProvider payments(workers::SimulatedPaymentOptions{
      s.workers.payment_decline_rate, std::chrono::milliseconds(s.workers.payment_latency_ms)});
  workers::OrderSaga saga(order_store, payments, clock, std::chrono::milliseconds(s.workers.payment_timeout_ms));
  constexpr const char* kSagaQueue = "order-saga";
  auto finished_counter = [&metrics](const char* status) -> obs::Counter& {
    return metrics.GetCounter("shopd_orders_finished_total", "Orders the saga moved to a final status.",
                              {{"status", status}});
  };
  obs::Counter& orders_confirmed = finished_counter("confirmed");
  obs::Counter& orders_rejected = finished_counter("rejected");
  queue::JobWorker saga_worker(
      jobs,
      queue::JobWorkerOptions{.queue = kSagaQueue,
                              .concurrency = static_cast<size_t>(s.workers.workers),
                              .lease_ms = s.workers.job_lease_ms},
      [&saga, &orders_confirmed, &orders_rejected](const queue::LeasedJob& job)
          -> boost::asio::awaitable<core::Result<void>> {
        auto finished = co_await saga.Run(job.payload);
        if (!finished) co_return finished.error();
        if (*finished == "confirmed") orders_confirmed.Inc();
        if (*finished == "rejected") orders_rejected.Inc();
        co_return core::Result<void>{};
      });
  // Each order.created event becomes one saga job, a whole read batch in one
  // group-committed write; the order id dedupes redelivered events, and the
  // saga itself is idempotent on top of that.
  events::EventConsumer created_consumer(
      event_log, events::EventConsumerOptions{.topic = "order.created", .group = "order-saga", .batch_size = 256},
      [&jobs, &saga_worker](const std::vector<events::Event>& batch) -> boost::asio::awaitable<core::Result<void>> {
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
      });
  events::OutboxRelayOptions relay_options;
  relay_options.on_relayed = [&created_consumer] { created_consumer.Notify(); };
  events::sqlite::SqliteOutboxRelay relay(**db, pool, event_log, relay_options);
  obs::Counter& orders_placed =
      metrics.GetCounter("shopd_orders_placed_total", "Orders committed and answered 202 (replays not counted).");
  services::OrdersService orders(order_store, clock, [&relay, &orders_placed](std::string_view change) {
    if (change == "placed") orders_placed.Inc();
    relay.Notify();
  });
  // The event log is append-only; trimming old events keeps it bounded on disk.
  boost::asio::steady_timer trim_timer(background);
  boost::asio::co_spawn(
      background,
      [&]() -> boost::asio::awaitable<void> {
        for (;;) {
          trim_timer.expires_after(std::chrono::seconds(60));
          auto [ec] = co_await trim_timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
          if (ec) co_return;
          const int64_t cutoff = clock.UnixMillis() - s.workers.event_retention_s * 1000;
          auto trimmed = co_await pool.Run([&] { return event_log.TrimSync(cutoff, 10'000); });
          if (!trimmed) obs::LogWarn("event trim failed", {{"error", trimmed.error().message}});
        }
      },
      boost::asio::detached);
  relay.Start(background.get_executor());
  created_consumer.Start(background.get_executor());
  saga_worker.Start(background.get_executor());
  std::thread background_thread([&background] {
    pthread_setname_np(pthread_self(), "shopd-bg");
    background.run();
  });

  http::Router router;
  RegisterOpsRoutes(router, metrics, [&store]() { return store.Ping(); });
  services::RegisterUserRoutes(router, users);
  services::RegisterCatalogRoutes(router, catalog);
  services::RegisterOrderRoutes(router, orders);
  RegisterOpenApiRoute(router);
  // A hand-written document that lost track of the routes is a build defect;
  // every integration test starts this binary, so it cannot ship.
  if (auto described = CheckOpenApiMatchesRoutes(OpenApiDocument(), router); !described) {
    background_guard.reset();
    background.stop();
    background_thread.join();
    obs::LogError("api/openapi.json does not describe the routes",
                  {{"error", described.error().message}, {"detail", described.error().internal}});
    return 1;
  }

  std::vector<std::unique_ptr<http::Middleware>> middlewares;
  middlewares.push_back(std::make_unique<http::RequestIdMiddleware>());
  middlewares.push_back(std::make_unique<http::ObservabilityMiddleware>(metrics, &access_log));
  middlewares.push_back(std::make_unique<http::SecurityHeadersMiddleware>());
  middlewares.push_back(std::make_unique<http::CorsMiddleware>(s.server.cors_origins));

  http::Server server(s.server, router, std::move(middlewares), &authenticator, &metrics);
  try {
    server.Listen();
  } catch (const std::exception& e) {
    background_guard.reset();
    background.stop();
    background_thread.join();
    obs::LogError("cannot listen", {{"address", s.server.host}, {"port", s.server.port}, {"error", e.what()}});
    return 1;
  }
  server.SetPeriodicHook([&access_log] { access_log.FlushThreadBuffer(); });
  obs::LogInfo("listening", {{"address", s.server.host},
                             {"port", server.port()},
                             {"threads", s.server.threads},
                             {"data_dir", s.app.data_dir},
                             {"pid", static_cast<int64_t>(::getpid())}});
  server.Run();
  // Stop the background loops (each finishes what it holds: a leased job that
  // is cut short is redelivered after its lease, an uncommitted event re-read).
  boost::asio::co_spawn(
      background,
      [&]() -> boost::asio::awaitable<void> {
        trim_timer.cancel();
        co_await relay.Stop();
        co_await created_consumer.Stop();
        co_await saga_worker.Stop();
      },
      [&](std::exception_ptr) { background_guard.reset(); });
  background_thread.join();
  // Accepted blocking tasks finish while the io_contexts still exist to
  // receive (and drop) their completions.
  writer.Shutdown();
  pool.Shutdown();
  obs::LogInfo("stopped", {{"pid", static_cast<int64_t>(::getpid())}});
  // The rest is destroyed in reverse order of construction: server, services,
  // pool, database; the access log is flushed last.
  access_log.Stop();
  return 0;
}

}  // namespace shopd::app

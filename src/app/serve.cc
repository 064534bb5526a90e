#include "app/serve.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <optional>
#include <thread>

#include "app/backends.h"
#include "app/cache_and_limits.h"
#include "app/maintenance.h"
#include "app/openapi.h"
#include "app/order_pipeline.h"
#include "app/ops_routes.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/http_routes.h"
#include "services/orders/http_routes.h"
#include "services/orders/orders_service.h"
#include "auth/jwt.h"
#include "core/clock.h"
#include "exec/await_blocking.h"
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

namespace shopd::app {
namespace {

namespace asio = boost::asio;

// Hash threads run this much nicer than the reactor threads.
constexpr int kHashThreadNice = 10;

// Expired refresh-token rows are purged this often, in batches this large
// (each a short write transaction), at most this many batches a round.
constexpr auto kRefreshTokenPurgeInterval = std::chrono::minutes(5);
constexpr int64_t kRefreshTokenPurgeBatch = 1000;
constexpr int kRefreshTokenPurgeMaxBatches = 100;

}  // namespace

core::Result<void> Bootstrap(const Settings& s) {
  auto backends = OpenBackends(s, {});
  if (!backends) return backends.error();
  const char* email = std::getenv("SHOPD_ADMIN_EMAIL");
  const char* password = std::getenv("SHOPD_ADMIN_PASSWORD");
  core::Result<void> ensured;
  if (email && *email) {
    if (!password || !*password) {
      ensured = core::Error::Invalid("SHOPD_ADMIN_EMAIL is set but SHOPD_ADMIN_PASSWORD is not");
    } else {
      exec::WorkerPool hash_pool(1, 16, "shopd-boot");
      ratelimit::MemoryRateLimiter limiter(core::SystemClock::Instance());
      auth::JwtCodec jwt(s.jwt_secret);
      services::UsersService users(s.users, (*backends)->users(), limiter, hash_pool, jwt,
                                   core::SystemClock::Instance());
      auto admin = exec::AwaitBlocking(users.EnsureAdmin(email, password));
      hash_pool.Shutdown();
      if (admin)
        obs::LogInfo("admin ensured", {{"email", admin->email}, {"id", admin->id}});
      else
        ensured = admin.error();
    }
  }
  (*backends)->Shutdown();
  return ensured;
}

int RunServer(const Settings& s) {
  const core::Clock& clock = core::SystemClock::Instance();
  obs::MetricsRegistry metrics;
  obs::RegisterProcessMetrics(metrics);
  obs::AccessLogConfig access_cfg;
  access_cfg.enabled = s.app.access_log;
  obs::AccessLog access_log(access_cfg, metrics);

  // Every committed product change (admin update, saga reservation, release on
  // a cancellation or rejection) is announced here by the store that made it,
  // and by the pipeline's tail for changes made by other processes; the
  // catalog drops its cached copies on each (storage/product_changes.h).
  storage::ProductChangeNotifier product_changes;
  auto opened = OpenBackends(s, {.clock = &clock, .metrics = &metrics, .product_changes = &product_changes});
  if (!opened) {
    obs::LogError("cannot open database",
                  {{"error", opened.error().message}, {"detail", opened.error().internal}});
    return 1;
  }
  Backends& backends = **opened;
  // Password hashing gets its own pool, so database work never queues behind
  // argon2; its threads are niced so the reactors keep the CPU under a login flood.
  exec::WorkerPool hash_pool(exec::WorkerPoolOptions{.threads = static_cast<size_t>(s.app.hash_threads),
                                                     .max_queued = static_cast<size_t>(s.app.hash_queue),
                                                     .name = "shopd-hash",
                                                     .nice = kHashThreadNice,
                                                     .max_wait_ms = s.app.hash_queue_wait_ms});
  metrics.AddCallbackGauge("shopd_hash_pool_queued", "Password hashes waiting for a hash thread.", {},
                           [&hash_pool] { return static_cast<double>(hash_pool.queued()); });
  metrics.AddCallbackCounter("shopd_hash_pool_rejected_total",
                             "Password hashes refused (503): the hash queue was full, or a hash waited longer than "
                             "--hash-queue-wait-ms.", {},
                             [&hash_pool] { return static_cast<double>(hash_pool.rejected()); });
  auto shared = CacheAndLimits::Open(s, clock, metrics);
  if (!shared) {
    obs::LogError("cannot use redis", {{"error", shared.error().message}, {"detail", shared.error().internal}});
    return 1;
  }
  CacheAndLimits& cache_and_limits = **shared;
  storage::UserStore& store = backends.users();
  ratelimit::RateLimiter& limiter = cache_and_limits.auth_limiter();
  auth::JwtCodec jwt(s.jwt_secret);
  services::UsersService users(s.users, store, limiter, hash_pool, jwt, clock, &metrics);
  services::TokenAuthenticator authenticator(jwt, clock, users);
  obs::Counter& tokens_purged = metrics.GetCounter("shopd_refresh_tokens_purged_total",
                                                   "Refresh-token rows deleted once they could no longer matter.");
  Maintenance maintenance;
  maintenance.Add({"refresh-token-purge", kRefreshTokenPurgeInterval,
                   [&users, &tokens_purged]() -> asio::awaitable<void> {
                     auto purged = co_await users.PurgeRefreshTokens(kRefreshTokenPurgeBatch,
                                                                     kRefreshTokenPurgeMaxBatches);
                     if (!purged) {
                       obs::LogWarn("refresh token purge failed", {{"error", purged.error().message},
                                                                   {"detail", purged.error().internal}});
                       co_return;
                     }
                     tokens_purged.Inc(static_cast<uint64_t>(*purged));
                   }});

  // Catalog: cache-aside reads over the catalog store.
  services::CatalogService catalog(backends.catalog(), cache_and_limits.product_cache(), clock,
                                   std::chrono::milliseconds(s.catalog.cache_ttl_ms));
  product_changes.Subscribe(catalog);

  // Orders: each one is committed with its outbox row before its 202; the
  // pipeline then runs the saga asynchronously.
  storage::OrderStore& order_store = backends.orders();
  OrderPipeline pipeline(backends.pipeline(), order_store, s.workers, metrics, clock, &product_changes);
  obs::Counter& orders_placed =
      metrics.GetCounter("shopd_orders_placed_total", "Orders committed and answered 202 (replays not counted).");
  services::OrdersService orders(s.orders, order_store, cache_and_limits.order_limiter(), clock,
                                 [&pipeline, &orders_placed](std::string_view change) {
    if (change == "placed") orders_placed.Inc();
    pipeline.OutboxWritten();
  });
  product_changes.Subscribe(pipeline.relay_on_product_change());
  pipeline.Start();
  maintenance.Start();

  http::Router router;
  CachedReadyCheck ready([&store]() { return store.Ping(); }, clock);
  metrics.AddCallbackCounter("shopd_ready_checks_total",
                             "Dependency checks run for /ready (at most one a second, however often it is called).",
                             {}, [&ready] { return static_cast<double>(ready.checks_run()); });
  RegisterHealthRoutes(router, ready);
  // With --admin-listen, /metrics is only on the admin listener.
  http::Router admin_router;
  RegisterMetricsRoute(s.server.has_admin_listener() ? admin_router : router, metrics);
  services::RegisterUserRoutes(router, users);
  services::RegisterCatalogRoutes(router, catalog);
  services::RegisterOrderRoutes(router, orders);
  RegisterOpenApiRoute(router);
  // A hand-written document that lost track of the routes is a build defect;
  // every integration test starts this binary, so it cannot ship.
  if (auto described = CheckOpenApiMatchesRoutes(OpenApiDocument(), {&router, &admin_router}); !described) {
    pipeline.Stop();
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
  std::optional<http::Server> admin_server;
  if (s.server.has_admin_listener()) {
    http::ServerConfig admin_cfg = s.server;
    admin_cfg.host = s.server.admin_host;
    admin_cfg.port = s.server.admin_port;
    admin_cfg.threads = 1;
    std::vector<std::unique_ptr<http::Middleware>> admin_middlewares;
    admin_middlewares.push_back(std::make_unique<http::RequestIdMiddleware>());
    admin_middlewares.push_back(std::make_unique<http::SecurityHeadersMiddleware>());
    admin_server.emplace(admin_cfg, admin_router, std::move(admin_middlewares), nullptr, nullptr);
  }
  try {
    server.Listen();
  } catch (const std::exception& e) {
    pipeline.Stop();
    obs::LogError("cannot listen", {{"address", s.server.host}, {"port", s.server.port}, {"error", e.what()}});
    return 1;
  }
  if (admin_server) {
    try {
      admin_server->Listen();
    } catch (const std::exception& e) {
      pipeline.Stop();
      obs::LogError("cannot listen (admin)",
                    {{"address", s.server.admin_host}, {"port", s.server.admin_port}, {"error", e.what()}});
      return 1;
    }
    obs::LogInfo("admin listening", {{"address", s.server.admin_host}, {"port", admin_server->port()}});
  }
  // The admin listener runs on its own thread and stops after the public one has drained.
  std::thread admin_thread;
  if (admin_server) admin_thread = std::thread([&admin_server] { admin_server->Run(/*handle_signals=*/false); });
  server.SetPeriodicHook([&access_log] { access_log.FlushThreadBuffer(); });
  obs::LogInfo("listening", {{"address", s.server.host},
                             {"port", server.port()},
                             {"threads", s.server.threads},
                             {"database", backends.Describe()},
                             {"cache", cache_and_limits.Describe()},
                             {"pid", static_cast<int64_t>(::getpid())}});
  server.Run();
  if (admin_server) {
    admin_server->Stop();
    admin_thread.join();
  }
  maintenance.Stop();
  pipeline.Stop();
  // Accepted blocking tasks finish while the io_contexts still exist to
  // receive (and drop) their completions.
  backends.Shutdown();
  hash_pool.Shutdown();
  obs::LogInfo("stopped", {{"pid", static_cast<int64_t>(::getpid())}});
  // The rest is destroyed in reverse order of construction: server, services,
  // pool, database; the access log is flushed last.
  access_log.Stop();
  return 0;
}

}  // namespace shopd::app

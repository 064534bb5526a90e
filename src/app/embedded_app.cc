#include "app/embedded_app.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>

#include "app/openapi.h"
#include "app/order_pipeline.h"
#include "app/ops_routes.h"
#include "cache/memory/memory_cache.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/http_routes.h"
#include "services/orders/http_routes.h"
#include "services/orders/orders_service.h"
#include "storage/sqlite/sqlite_catalog_store.h"
#include "storage/sqlite/sqlite_order_store.h"
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

  // Orders: each one is written (with its outbox row) through the group
  // commit before its 202; the pipeline then runs the saga asynchronously.
  storage::sqlite::SqliteWriter writer(**db);
  metrics.AddCallbackCounter("shopd_sqlite_group_commits_total", "Write transactions the SQLite writer committed.", {},
                             [&writer] { return static_cast<double>(writer.commits()); });
  metrics.AddCallbackCounter("shopd_sqlite_group_writes_total",
                             "Writes committed by the SQLite writer (writes / commits = mean group size).", {},
                             [&writer] { return static_cast<double>(writer.writes()); });
  storage::sqlite::SqliteOrderStore order_store(**db, pool, writer);
  OrderPipeline pipeline(**db, pool, writer, order_store, s.workers, metrics, clock);
  obs::Counter& orders_placed =
      metrics.GetCounter("shopd_orders_placed_total", "Orders committed and answered 202 (replays not counted).");
  services::OrdersService orders(order_store, clock, [&pipeline, &orders_placed](std::string_view change) {
    if (change == "placed") orders_placed.Inc();
    pipeline.OrderWritten();
  });
  pipeline.Start();

  http::Router router;
  RegisterOpsRoutes(router, metrics, [&store]() { return store.Ping(); });
  services::RegisterUserRoutes(router, users);
  services::RegisterCatalogRoutes(router, catalog);
  services::RegisterOrderRoutes(router, orders);
  RegisterOpenApiRoute(router);
  // A hand-written document that lost track of the routes is a build defect;
  // every integration test starts this binary, so it cannot ship.
  if (auto described = CheckOpenApiMatchesRoutes(OpenApiDocument(), router); !described) {
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
  try {
    server.Listen();
  } catch (const std::exception& e) {
    pipeline.Stop();
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
  pipeline.Stop();
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

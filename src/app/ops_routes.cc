#include "app/ops_routes.h"

#include "http/problem.h"
#include "http/router.h"
#include "obs/metrics.h"

namespace shopd::app {

void RegisterOpsRoutes(http::Router& router, obs::MetricsRegistry& metrics, ReadyCheck ready) {
  // Liveness only: answers while the process can serve at all. Kept synchronous
  // and allocation-light; it is also the benchmark's baseline route.
  router.Get("/health", http::SyncHandler([](http::Request&) {
    return http::Response::Json(200, R"({"status":"ok"})");
  }));

  router.Get("/ready", http::AsyncHandler([ready = std::move(ready)](http::Request& req)
                                              -> boost::asio::awaitable<http::Response> {
    auto ok = co_await ready();
    if (!ok) {
      auto res = http::Problem(req, 503, "not-ready", "a dependency is unreachable");
      res.SetHeader("Retry-After", "1");
      co_return res;
    }
    co_return http::Response::Json(200, R"({"status":"ready"})");
  }));

  router.Get("/metrics", http::SyncHandler([&metrics](http::Request&) {
    http::Response res = http::Response::Text(200, metrics.RenderPrometheus());
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return res;
  }));
}

}  // namespace shopd::app

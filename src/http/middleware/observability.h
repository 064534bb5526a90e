// http: request metrics and the access log line, for every request.
//
// Prometheus series per route template (never the raw path: ids would make
// the label set unbounded), method and status; a latency histogram per route
// and method; the number of requests in flight. Series are resolved once per
// reactor thread and cached, so the hot path is a few relaxed atomic adds.
#pragma once

#include <memory>

#include "http/middleware.h"
#include "obs/fwd.h"

namespace shopd::http {

class ObservabilityMiddleware final : public Middleware {
 public:
  // `access_log` may be null (no access log).
  ObservabilityMiddleware(obs::MetricsRegistry& metrics, obs::AccessLog* access_log);
  ~ObservabilityMiddleware() override;

  std::optional<Response> OnRequest(Request& req) override;
  void OnResponse(const Request& req, Response& res) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopd::http

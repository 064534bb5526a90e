// http: method + path routing with `{param}` segments. Depends on core.
//
// Static paths are found by hash lookup; templated paths by segment match in
// registration order. A path that exists with other methods gives 405 + Allow.
//
//   router.Get("/health", [](Request&) { return Response::Text(200, "OK"); });
//   router.Get("/v1/users/{id}", GetUser, {.requires_auth = true});
//   Router::Match m = router.Find(req.method(), req);   // fills path params
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/method.h"
#include "http/request.h"
#include "http/response.h"

namespace shopd::http {

using SyncHandler = std::function<Response(Request&)>;
using AsyncHandler = std::function<boost::asio::awaitable<Response>(Request&)>;

struct RouteOptions {
  bool requires_auth = false;  // bearer token verified before the handler runs
  bool no_store = false;       // responses carry Cache-Control: no-store
  int64_t max_body_bytes = 0;  // a lower body limit than the server's; 0 = the server's
};

struct Route {
  Method method;
  std::string pattern;  // the template, also the metrics label
  std::vector<std::string> segments;
  SyncHandler sync;     // exactly one of sync / async is set
  AsyncHandler async;
  RouteOptions options;
  size_t index = 0;     // dense id, for per-route metric slots
};

class Router {
 public:
  struct Match {
    const Route* route = nullptr;
    bool path_exists = false;  // some route has this path (-> 405)
    std::string allow;         // "GET, POST" when path_exists and no route
  };

  Route& Add(Method m, std::string_view pattern, SyncHandler h, RouteOptions opts = {});
  Route& Add(Method m, std::string_view pattern, AsyncHandler h, RouteOptions opts = {});
  Route& Get(std::string_view p, SyncHandler h, RouteOptions o = {}) { return Add(Method::kGet, p, std::move(h), o); }
  Route& Get(std::string_view p, AsyncHandler h, RouteOptions o = {}) { return Add(Method::kGet, p, std::move(h), o); }
  Route& Post(std::string_view p, AsyncHandler h, RouteOptions o = {}) { return Add(Method::kPost, p, std::move(h), o); }
  Route& Put(std::string_view p, AsyncHandler h, RouteOptions o = {}) { return Add(Method::kPut, p, std::move(h), o); }

  // HEAD falls back to GET routes (the server drops the body).
  Match Find(Method m, Request& req) const;
  // The body limit of the route for (m, path); 0 when it has none of its own
  // or there is no such route. Asked once a request's header is in.
  int64_t BodyLimit(Method m, std::string_view path) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  Route& AddRoute(std::unique_ptr<Route> r);
  const Route* FindIn(Method m, std::string_view path, Request* req, bool* path_exists) const;

  std::vector<std::unique_ptr<Route>> routes_;
  std::unordered_map<std::string, std::vector<const Route*>> static_;  // path -> routes
  std::vector<const Route*> templated_;
};

}  // namespace shopd::http

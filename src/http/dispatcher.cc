#include "http/dispatcher.h"

#include <stdexcept>

#include "http/authenticator.h"
#include "http/problem.h"
#include "http/query_string.h"
#include "core/error.h"
#include "obs/log.h"

namespace shopd::http {
namespace {

// "Bearer <token>" with a case-insensitive scheme; "" when absent or malformed.
std::string_view BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return {};
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace

Dispatcher::Dispatcher(const Router& router, std::vector<std::unique_ptr<Middleware>> middlewares,
                       const Authenticator* authenticator)
    : router_(router), middlewares_(std::move(middlewares)), authenticator_(authenticator) {
  if (!authenticator_) return;
  for (const auto& route : router_.routes()) {
    if (!route->options.requires_auth) continue;
    auto twin = std::make_unique<Route>();
    twin->method = route->method;
    twin->pattern = route->pattern;
    twin->segments = route->segments;
    twin->options = route->options;
    twin->index = route->index;
    twin->async = [auth = authenticator_, inner = route.get()](Request& req) -> boost::asio::awaitable<Response> {
      auto live = co_await auth->Confirm(*req.principal());
      if (!live) co_return ProblemFromError(req, live.error());
      if (inner->async) co_return co_await inner->async(req);
      co_return inner->sync(req);
    };
    if (confirming_.size() <= route->index) confirming_.resize(route->index + 1);
    confirming_[route->index] = std::move(twin);
  }
}

void Dispatcher::Begin(Request& req, Pending& p) const {
  for (const auto& mw : middlewares_) {
    ++p.middlewares_ran;
    if (auto early = mw->OnRequest(req)) {
      p.response = std::move(*early);
      return;
    }
  }
  Router::Match match = router_.Find(req.method(), req);
  if (!match.route) {
    if (match.path_exists) {
      p.response = Problem(req, 405, "method-not-allowed",
                           "method " + std::string(req.method_text()) + " is not allowed here");
      p.response.SetHeader("Allow", match.allow);
    } else {
      p.response = Problem(req, 404, "not-found", "no such resource");
    }
    return;
  }
  const Route& route = *match.route;
  req.SetRoute(route.pattern);
  // Checked for every route, so no handler silently ignores what it cannot decode.
  if (!IsWellFormedQuery(req.query())) {
    p.response = Problem(req, 400, "malformed-query",
                         "the query string is not well-formed: bad percent-encoding or a character that must be "
                         "percent-encoded");
    return;
  }
  if (route.options.requires_auth) {
    std::string_view token = BearerToken(req.Header("Authorization"));
    core::Result<core::Principal> who =
        token.empty() || !authenticator_
            ? core::Result<core::Principal>(core::Error::Make(core::Errc::kUnauthenticated, "a bearer token is required"))
            : authenticator_->Authenticate(token);
    if (!who) {
      p.response = ProblemFromError(req, who.error());
      return;
    }
    const bool confirm = who->needs_confirmation;
    req.SetPrincipal(std::move(*who));
    if (confirm) {
      if (route.index >= confirming_.size() || !confirming_[route.index]) {
        // A route added after the server was built: refuse rather than skip the check.
        p.response = Problem(req, 503, "unavailable", "the session cannot be checked now");
        return;
      }
      p.async_route = confirming_[route.index].get();
      return;
    }
  }
  if (route.async) {
    p.async_route = &route;
    return;
  }
  try {
    p.response = route.sync(req);
  } catch (...) {
    p.response = InternalError(req, std::current_exception());
  }
}

void Dispatcher::Finish(Request& req, Pending& p) const {
  if (p.async_route && p.async_route->options.no_store && p.response.GetHeader("Cache-Control").empty())
    p.response.headers.emplace_back("Cache-Control", "no-store");
  for (size_t i = p.middlewares_ran; i-- > 0;) middlewares_[i]->OnResponse(req, p.response);
}

Response Dispatcher::ForProtocolError(Request& req, int status, std::string_view slug,
                                      std::string_view detail) const {
  Pending p;
  for (const auto& mw : middlewares_) {
    ++p.middlewares_ran;
    if (mw->OnRequest(req)) break;
  }
  p.response = Problem(req, status, slug, detail);
  p.response.close = true;
  Finish(req, p);
  return std::move(p.response);
}

Response Dispatcher::InternalError(const Request& req, std::exception_ptr e) const {
  obs::LogError("handler failed", {{"request_id", req.request_id()},
                                   {"route", req.route()},
                                   {"error", core::ExceptionText(e)}});
  return Problem(req, 500, "internal-error", "internal error");
}

}  // namespace shopd::http

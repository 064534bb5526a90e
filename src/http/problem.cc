#include "http/problem.h"

#include "obs/json_escape.h"
#include "obs/log.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace shopd::http {
namespace {

// Messages, slugs and request ids may carry any bytes; boost::json would pass
// ill-formed UTF-8 through and emit a document no JSON parser accepts.
boost::json::string Text(std::string_view s) { return boost::json::string(obs::ValidUtf8(s)); }

std::string Body(int status, std::string_view slug, std::string_view detail, std::string_view request_id,
                 const std::vector<core::FieldError>& errors) {
  boost::json::object o;
  o["type"] = Text(std::string("https://shopd.dev/problems/") + std::string(slug));
  o["title"] = StatusReason(status);
  o["status"] = status;
  o["detail"] = Text(detail);
  if (!request_id.empty()) o["request_id"] = Text(request_id);
  if (!errors.empty()) {
    boost::json::array list;
    for (const auto& e : errors)
      list.push_back(boost::json::object{{"field", Text(e.field)}, {"message", Text(e.message)}});
    o["errors"] = std::move(list);
  }
  return boost::json::serialize(o);
}

}  // namespace

Response ProblemWithoutRequest(int status, std::string_view slug, std::string_view detail,
                               std::string_view request_id) {
  Response r = Response::Json(status, Body(status, slug, detail, request_id, {}));
  r.content_type = "application/problem+json";
  return r;
}

Response Problem(const Request& req, int status, std::string_view slug, std::string_view detail,
                 const std::vector<core::FieldError>& errors) {
  Response r = Response::Json(status, Body(status, slug, detail, req.request_id(), errors));
  r.content_type = "application/problem+json";
  return r;
}

namespace {
std::string_view Slug(const core::Error& e, std::string_view fallback) {
  return e.type.empty() ? fallback : std::string_view(e.type);
}
}  // namespace

Response ProblemFromError(const Request& req, const core::Error& e) {
  using core::Errc;
  Response r;
  switch (e.code) {
    case Errc::kInvalidArgument:
      // Field-level failures are validation errors (422); a request that could
      // not be read at all is a plain 400.
      if (!e.field_errors.empty()) return Problem(req, 422, Slug(e, "validation-error"), e.message, e.field_errors);
      return Problem(req, 400, Slug(e, "bad-request"), e.message);
    case Errc::kUnauthenticated:
      r = Problem(req, 401, Slug(e, "unauthorized"), e.message);
      r.SetHeader("WWW-Authenticate", "Bearer");
      return r;
    case Errc::kPermissionDenied:
      return Problem(req, 403, Slug(e, "forbidden"), e.message);
    case Errc::kNotFound:
      return Problem(req, 404, Slug(e, "not-found"), e.message);
    case Errc::kConflict:
      return Problem(req, 409, Slug(e, "conflict"), e.message);
    case Errc::kUnprocessable:
      return Problem(req, 422, Slug(e, "unprocessable"), e.message, e.field_errors);
    case Errc::kUnsupportedMedia:
      return Problem(req, 415, Slug(e, "unsupported-media-type"), e.message);
    case Errc::kRateLimited:
      r = Problem(req, 429, Slug(e, "rate-limited"), e.message);
      r.SetHeader("Retry-After", std::to_string(e.retry_after_s > 0 ? e.retry_after_s : 1));
      return r;
    case Errc::kUnavailable:
      r = Problem(req, 503, Slug(e, "unavailable"), e.message);
      r.SetHeader("Retry-After", std::to_string(e.retry_after_s > 0 ? e.retry_after_s : 1));
      return r;
    case Errc::kInternal:
      obs::LogError("internal error", {{"request_id", req.request_id()}, {"route", req.route()},
                                       {"error", e.internal.empty() ? e.message : e.internal}});
      return Problem(req, 500, "internal-error", "internal error");
  }
  return Problem(req, 500, "internal-error", "internal error");
}

}  // namespace shopd::http

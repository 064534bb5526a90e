// http (internal): bytes in, one parsed request (or the reason there is none)
// out, with no socket: the server's connections and the HTTP fuzzer both read
// through it. Enforces the header limit, each route's body limit and the
// server-wide body budget before the body is read.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/method.h"

namespace shopd::http {
class Router;
}

namespace shopd::http::detail {

class BodyBudget;

struct ReaderLimits {
  int64_t max_header_bytes = 16 << 10;
  int64_t max_body_bytes = 1 << 20;  // a route may ask for less (RouteOptions::max_body_bytes)
};

class RequestReader {
 public:
  using Message = boost::beast::http::request<boost::beast::http::string_body>;

  enum class Event {
    kNeedMore,  // the buffer is used up: read more
    kHeader,    // the header of a request with a body is complete (once per request)
    kRequest,   // a complete request: message() until Next()
    kError,     // answer failure() and close the connection
  };
  struct Failure {
    int status = 400;
    std::string_view slug = "bad-request";
    std::string_view detail = "malformed HTTP request";
    bool retry_later = false;  // a temporary refusal: answer with Retry-After
  };

  // `router` (for per-route body limits) and `budget` may be null.
  RequestReader(ReaderLimits limits, const Router* router, BodyBudget* budget);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // Parses from the front of `buffer`, consuming what it used.
  Event Read(boost::beast::flat_buffer& buffer);

  Message& message() { return parser_->get(); }
  Method method() const { return method_; }
  bool expects_continue() const;
  const Failure& failure() const { return failure_; }

  // Ready for the next request on the connection; the body's budget is returned.
  void Next();

 private:
  Event Fail(Failure f);
  // At the end of the header: the body's limit and its share of the budget.
  std::optional<Failure> AdmitBody();
  bool ReserveUpTo(int64_t bytes);

  ReaderLimits limits_;
  const Router* router_;
  BodyBudget* budget_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  // Beast's header_limit does not fire when the fields arrive across several
  // put() calls, so the header size is counted here.
  size_t header_bytes_ = 0;
  int64_t reserved_ = 0;
  int64_t body_limit_ = 0;  // this request's: the route's or the server's
  Method method_ = Method::kOther;
  Failure failure_;
};

Method ToMethod(boost::beast::http::verb v);

}  // namespace shopd::http::detail

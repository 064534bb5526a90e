// Fuzzes the HTTP request path: raw bytes of one connection, arriving in
// pieces of a fuzzed size, through the server's RequestReader (header and
// body limits, per-route limits, the body budget), Request binding, the
// Dispatcher (middleware, routing, 404/405, bearer auth with an async
// confirmation, sync, async and throwing handlers) to the response bytes.
//
// Invariants: every answer parses back as one HTTP/1.1 response with a
// status in 100..599 and a Content-Length equal to its body; an answer to
// bytes that are not a request is a 400/413/431/503 problem that closes the
// connection; a request reaches a handler only within its body limit; a
// header block over the limit is never accepted; every reserved body byte is
// returned to the budget; HEAD answers carry no body.
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "http/authenticator.h"
#include "http/detail/body_budget.h"
#include "http/detail/raw_request.h"
#include "http/detail/request_reader.h"
#include "http/detail/response_writer.h"
#include "http/dispatcher.h"
#include "http/middleware/request_id.h"
#include "http/middleware/security_headers.h"
#include "http/router.h"
#include "obs/log.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using shopd::http::Method;
using shopd::http::Request;
using shopd::http::Response;
using Reader = shopd::http::detail::RequestReader;

constexpr int64_t kHeaderLimit = 2048;
constexpr int64_t kBodyLimit = 4096;
constexpr int64_t kLoginBodyLimit = 64;
constexpr int64_t kBudget = 6000;  // enough for one body of each size, not for every request at once

// Tokens: "good" passes from memory, "confirm" needs the async step (which
// accepts it), anything else is refused.
class FuzzAuthenticator final : public shopd::http::Authenticator {
 public:
  shopd::core::Result<shopd::core::Principal> Authenticate(std::string_view token) const override {
    if (token == "good") return shopd::core::Principal{.user_id = "u1", .role = "user"};
    if (token == "confirm") return shopd::core::Principal{.user_id = "u2", .role = "admin", .needs_confirmation = true};
    return shopd::core::Error::Make(shopd::core::Errc::kUnauthenticated, "bad token");
  }
  asio::awaitable<shopd::core::Result<void>> Confirm(const shopd::core::Principal& who) const override {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    FUZZ_CHECK(who.user_id == "u2");
    co_return shopd::core::Result<void>{};
  }
};

struct App {
  App() {
    router.Get("/health", [](Request&) { return Response::Text(200, "OK"); });
    router.Get("/items/{id}", [](Request& req) {
      std::string id(req.PathParam("id"));
      FUZZ_CHECK(!id.empty());
      return Response::Text(200, id);
    });
    router.Post("/echo", [](Request& req) -> asio::awaitable<Response> {
      FUZZ_CHECK(static_cast<int64_t>(req.body().size()) <= kBodyLimit);
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      co_return Response::Text(201, std::string(req.body()));
    });
    router.Post(
        "/login",
        [](Request& req) -> asio::awaitable<Response> {
          FUZZ_CHECK(static_cast<int64_t>(req.body().size()) <= kLoginBodyLimit);
          co_return Response::Empty(204);
        },
        {.no_store = true, .max_body_bytes = kLoginBodyLimit});
    router.Get(
        "/me",
        [](Request& req) {
          FUZZ_CHECK(req.principal() != nullptr);
          return Response::Text(200, req.principal()->user_id);
        },
        {.requires_auth = true});
    router.Put("/boom", [](Request&) -> asio::awaitable<Response> { throw std::runtime_error("handler failed"); });
    std::vector<std::unique_ptr<shopd::http::Middleware>> mws;
    mws.push_back(std::make_unique<shopd::http::RequestIdMiddleware>());
    mws.push_back(std::make_unique<shopd::http::SecurityHeadersMiddleware>());
    dispatcher = std::make_unique<shopd::http::Dispatcher>(router, std::move(mws), &auth);
  }
  shopd::http::Router router;
  FuzzAuthenticator auth;
  std::unique_ptr<shopd::http::Dispatcher> dispatcher;
};

App& TheApp() {
  static App app;
  return app;
}

constexpr std::string_view kDate = "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n";

// One answer from the bytes the writer produced; checks its framing.
struct Answer {
  int status = 0;
  bool close = false;
};
Answer ParseAnswer(std::string_view bytes, bool head_request, size_t& used) {
  bhttp::response_parser<bhttp::string_body> p;
  p.skip(head_request);
  p.eager(true);
  beast::error_code ec;
  used = p.put(asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && !p.is_done()) {
    // A response without a body: put() stops at the end of the header.
    FUZZ_CHECK(p.is_header_done());
    p.put_eof(ec);
  }
  if (ec) std::fprintf(stderr, "unparseable answer (%s): %.*s\n", ec.message().c_str(), int(bytes.size()), bytes.data());
  FUZZ_CHECK(!ec && p.is_done());
  const auto& m = p.get();
  FUZZ_CHECK(m.version() == 11);
  const int status = static_cast<int>(m.result_int());
  FUZZ_CHECK(status >= 100 && status <= 599);
  if (head_request || status == 204 || status == 304) {
    FUZZ_CHECK(m.body().empty());
  } else {
    FUZZ_CHECK(m.count(bhttp::field::content_length) == 1);
    FUZZ_CHECK(m[bhttp::field::content_length] == std::to_string(m.body().size()));
  }
  return {status, !m.keep_alive()};
}

// What a server connection does with `input`, minus the socket.
asio::awaitable<void> Converse(std::string input, size_t piece, shopd::http::detail::BodyBudget& budget) {
  App& app = TheApp();
  Reader reader({.max_header_bytes = kHeaderLimit, .max_body_bytes = kBodyLimit}, &app.router, &budget);
  beast::flat_buffer buffer(static_cast<size_t>(kHeaderLimit) + piece);
  size_t offset = 0;
  for (;;) {
    bool stop = false;
    while (buffer.size() > 0 && !stop) {
      const auto event = reader.Read(buffer);
      FUZZ_CHECK(budget.in_use() <= kBudget);
      if (event == Reader::Event::kNeedMore) break;
      if (event == Reader::Event::kHeader) continue;
      std::string out;
      if (event == Reader::Event::kError) {
        const auto& f = reader.failure();
        FUZZ_CHECK(f.status == 400 || f.status == 413 || f.status == 431 || f.status == 503);
        FUZZ_CHECK(f.retry_later == (f.status == 503));
        Request req;
        req.Bind(nullptr, Method::kOther, "", "", "", "127.0.0.1");
        Response res = app.dispatcher->ForProtocolError(req, f.status, f.slug, f.detail);
        shopd::http::detail::AppendResponse(out, res, false, true, kDate);
        size_t used = 0;
        const Answer a = ParseAnswer(out, false, used);
        FUZZ_CHECK(a.status == f.status && a.close && used == out.size());
        co_return;
      }
      auto& msg = reader.message();
      // Consumed bytes so far hold this request's header block, so an accepted
      // request line never exceeds the header limit.
      FUZZ_CHECK(static_cast<int64_t>(msg.method_string().size() + msg.target().size()) <= kHeaderLimit);
      FUZZ_CHECK(static_cast<int64_t>(msg.body().size()) <= kBodyLimit);
      shopd::http::Request::Raw raw{&msg};
      Request req;
      const Method method = reader.method();
      req.Bind(&raw, method, msg.method_string(), msg.target(), msg.body(), "127.0.0.1");
      req.SetClient("127.0.0.1", "127.0.0.1");
      shopd::http::Dispatcher::Pending pending;
      app.dispatcher->Begin(req, pending);
      if (pending.async_route) {
        try {
          pending.response = co_await pending.async_route->async(req);
        } catch (...) {
          pending.response = app.dispatcher->InternalError(req, std::current_exception());
        }
      }
      app.dispatcher->Finish(req, pending);
      const bool keep = msg.keep_alive() && !pending.response.close;
      shopd::http::detail::AppendResponse(out, pending.response, method == Method::kHead, !keep, kDate);
      size_t used = 0;
      const Answer a = ParseAnswer(out, method == Method::kHead, used);
      FUZZ_CHECK(used == out.size());
      FUZZ_CHECK(a.status == pending.response.status);
      FUZZ_CHECK(a.close == !keep);
      reader.Next();
      if (!keep) stop = true;
    }
    if (stop || offset >= input.size()) co_return;
    const size_t room = buffer.max_size() - buffer.size();
    if (room == 0) co_return;  // the server closes such a connection too
    const size_t n = std::min({piece, room, input.size() - offset});
    auto dst = buffer.prepare(n);
    std::memcpy(dst.data(), input.data() + offset, n);
    buffer.commit(n);
    offset += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  shopd::obs::InitLogging({.level = "error", .json = true, .fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC)});
  TheApp();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Byte 0: the size of the pieces the bytes arrive in; byte 1: the share of
  // the budget other connections hold; the rest: what the client sends.
  if (size < 2) return 0;
  const size_t piece = 1 + size_t{data[0]} * 2;
  const int64_t held = kBudget * data[1] / 255;
  std::string input(reinterpret_cast<const char*>(data) + 2, size - 2);

  shopd::http::detail::BodyBudget budget(kBudget);
  FUZZ_CHECK(budget.TryReserve(held));
  asio::io_context io(1);
  asio::co_spawn(io, Converse(std::move(input), piece, budget), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);  // an escaped exception is a finding
  });
  io.run();
  // Every byte the connection reserved came back.
  FUZZ_CHECK(budget.in_use() == held);
  return 0;
}

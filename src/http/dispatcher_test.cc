#include "http/dispatcher.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "core/testing/async_test_util.h"
#include "http/detail/raw_request.h"

#include "http/authenticator.h"
#include "http/middleware/cors.h"
#include "http/middleware/request_id.h"
#include "http/middleware/security_headers.h"

namespace shopd::http {
namespace {

// "good" is decided from memory; "cold-live" and "cold-revoked" need the
// asynchronous confirmation, which accepts only the first.
class FakeAuth final : public Authenticator {
 public:
  core::Result<core::Principal> Authenticate(std::string_view token) const override {
    if (token == "good") return core::Principal{"u1", "user"};
    if (token == "cold-live" || token == "cold-revoked") {
      core::Principal p{std::string(token), "user"};
      p.needs_confirmation = true;
      return p;
    }
    return core::Error::Make(core::Errc::kUnauthenticated, "invalid token");
  }
  boost::asio::awaitable<core::Result<void>> Confirm(const core::Principal& who) const override {
    ++confirms;
    if (who.user_id == "cold-live") co_return core::Result<void>{};
    co_return core::Error::Make(core::Errc::kUnauthenticated, "this token was revoked");
  }
  mutable int confirms = 0;
};

class Recorder final : public Middleware {
 public:
  explicit Recorder(std::vector<std::string>* log, std::string name) : log_(log), name_(std::move(name)) {}
  std::optional<Response> OnRequest(Request&) override {
    log_->push_back(name_ + ".req");
    return std::nullopt;
  }
  void OnResponse(const Request&, Response&) override { log_->push_back(name_ + ".res"); }

 private:
  std::vector<std::string>* log_;
  std::string name_;
};

Request MakeRequest(Method m, std::string_view target) {
  Request r;
  r.Bind(nullptr, m, MethodName(m), target, "", "127.0.0.1");
  return r;
}

Response Dispatch(const Dispatcher& d, Request& req) {
  Dispatcher::Pending p;
  d.Begin(req, p);
  EXPECT_EQ(p.async_route, nullptr);
  d.Finish(req, p);
  return p.response;
}

struct Fixture {
  Fixture() {
    router.Get("/ok", SyncHandler([](Request&) { return Response::Text(200, "fine"); }));
    router.Get("/me", SyncHandler([](Request& r) { return Response::Text(200, r.principal()->user_id); }),
               {.requires_auth = true});
    router.Get("/boom", SyncHandler([](Request&) -> Response { throw std::runtime_error("kaput"); }));
    std::vector<std::unique_ptr<Middleware>> mws;
    mws.push_back(std::make_unique<Recorder>(&log, "a"));
    mws.push_back(std::make_unique<RequestIdMiddleware>());
    mws.push_back(std::make_unique<SecurityHeadersMiddleware>());
    mws.push_back(std::make_unique<CorsMiddleware>(std::vector<std::string>{"https://shop.example"}));
    mws.push_back(std::make_unique<Recorder>(&log, "b"));
    dispatcher = std::make_unique<Dispatcher>(router, std::move(mws), &auth);
  }
  Router router;
  FakeAuth auth;
  std::vector<std::string> log;
  std::unique_ptr<Dispatcher> dispatcher;
};

TEST(Dispatcher, MiddlewareRunsInOrderThenReverse) {
  Fixture f;
  auto req = MakeRequest(Method::kGet, "/ok");
  auto res = Dispatch(*f.dispatcher, req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(f.log, (std::vector<std::string>{"a.req", "b.req", "b.res", "a.res"}));
  EXPECT_EQ(res.GetHeader("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(res.GetHeader("X-Request-Id").size(), 32u);
  EXPECT_EQ(req.route(), "/ok");
}

TEST(Dispatcher, UnknownRouteIsProblem404) {
  Fixture f;
  auto req = MakeRequest(Method::kGet, "/nope");
  auto res = Dispatch(*f.dispatcher, req);
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, "application/problem+json");
  auto doc = boost::json::parse(res.body).as_object();
  EXPECT_EQ(doc["status"].as_int64(), 404);
  EXPECT_EQ(doc["type"].as_string(), "https://shopd.dev/problems/not-found");
  EXPECT_EQ(doc["request_id"].as_string(), req.request_id());
}

TEST(Dispatcher, WrongMethodIs405WithAllow) {
  Fixture f;
  auto req = MakeRequest(Method::kPost, "/ok");
  auto res = Dispatch(*f.dispatcher, req);
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.GetHeader("Allow"), "GET, HEAD");
}

TEST(Dispatcher, MalformedQueryIs400ForEveryRoute) {
  Fixture f;
  for (std::string_view target : {"/ok?limit=1&cursor=%%%garbage", "/me?x=%4", "/boom?a=b c"}) {
    auto req = MakeRequest(Method::kGet, target);
    auto res = Dispatch(*f.dispatcher, req);
    EXPECT_EQ(res.status, 400) << target;
    EXPECT_NE(res.body.find("https://shopd.dev/problems/malformed-query"), std::string::npos) << res.body;
  }
  auto fine = MakeRequest(Method::kGet, "/ok?limit=1&cursor=a%2Fb");
  EXPECT_EQ(Dispatch(*f.dispatcher, fine).status, 200);
}

TEST(Dispatcher, AuthRequiredRoutes) {
  Fixture f;
  auto req = MakeRequest(Method::kGet, "/me");
  auto res = Dispatch(*f.dispatcher, req);
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(res.GetHeader("WWW-Authenticate"), "Bearer");
}

TEST(Dispatcher, SessionsTheAuthenticatorCannotVouchForAreConfirmedBeforeTheHandler) {
  Fixture f;
  for (auto [token, status, body] : {std::tuple{"good", 200, "u1"}, {"cold-live", 200, "cold-live"},
                                     {"cold-revoked", 401, ""}}) {
    SCOPED_TRACE(token);
    const int confirms_before = f.auth.confirms;
    const bool cold = std::string_view(token) != "good";
    boost::beast::http::request<boost::beast::http::string_body> msg{boost::beast::http::verb::get, "/me", 11};
    msg.set(boost::beast::http::field::authorization, std::string("Bearer ") + token);
    Request::Raw raw{&msg};
    Request req;
    req.Bind(&raw, Method::kGet, "GET", "/me", "", "127.0.0.1");
    Dispatcher::Pending p;
    f.dispatcher->Begin(req, p);
    if (!cold) {
      EXPECT_EQ(p.async_route, nullptr);  // decided from memory: the sync route, no coroutine
    } else {
      ASSERT_NE(p.async_route, nullptr);
      boost::asio::io_context io;
      p.response = shopd::testing::AwaitOn(io, p.async_route->async(req));
    }
    f.dispatcher->Finish(req, p);
    EXPECT_EQ(p.response.status, status);
    if (status == 200) EXPECT_EQ(p.response.body, body);
    EXPECT_EQ(f.auth.confirms - confirms_before, cold ? 1 : 0);
  }
}

TEST(Dispatcher, HandlerExceptionBecomes500AndIsContained) {
  Fixture f;
  auto req = MakeRequest(Method::kGet, "/boom");
  auto res = Dispatch(*f.dispatcher, req);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body.find("kaput"), std::string::npos);  // internals stay in the log
  auto again = MakeRequest(Method::kGet, "/ok");
  EXPECT_EQ(Dispatch(*f.dispatcher, again).status, 200);
}

TEST(Dispatcher, ProtocolErrorsGetHeadersAndClose) {
  Fixture f;
  Request req;
  req.Bind(nullptr, Method::kOther, "", "", "", "127.0.0.1");
  auto res = f.dispatcher->ForProtocolError(req, 431, "header-too-large", "too big");
  EXPECT_EQ(res.status, 431);
  EXPECT_TRUE(res.close);
  EXPECT_FALSE(res.GetHeader("X-Request-Id").empty());
  auto doc = boost::json::parse(res.body).as_object();
  EXPECT_EQ(doc["request_id"].as_string(), res.GetHeader("X-Request-Id"));
}

TEST(RequestId, AcceptsOnlySafeIds) {
  EXPECT_TRUE(RequestIdMiddleware::IsAcceptable("abc-123_x.y:z"));
  EXPECT_FALSE(RequestIdMiddleware::IsAcceptable(""));
  EXPECT_FALSE(RequestIdMiddleware::IsAcceptable("a b"));
  EXPECT_FALSE(RequestIdMiddleware::IsAcceptable("x\"}"));
  EXPECT_FALSE(RequestIdMiddleware::IsAcceptable(std::string(129, 'a')));
}

}  // namespace
}  // namespace shopd::http

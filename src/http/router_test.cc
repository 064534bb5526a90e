#include "http/router.h"

#include <gtest/gtest.h>

namespace shopd::http {
namespace {

Response Ok(Request&) { return Response::Text(200, "ok"); }

Request MakeRequest(Method m, std::string_view target) {
  Request r;
  r.Bind(nullptr, m, MethodName(m), target, "", "127.0.0.1");
  return r;
}

TEST(Router, StaticAndTemplatedRoutes) {
  Router router;
  router.Get("/health", SyncHandler(Ok));
  router.Get("/v1/users/me", SyncHandler(Ok));
  router.Get("/v1/users/{id}", SyncHandler(Ok));
  auto req = MakeRequest(Method::kGet, "/health");
  auto m = router.Find(Method::kGet, req);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/health");

  req = MakeRequest(Method::kGet, "/v1/users/me");
  m = router.Find(Method::kGet, req);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/v1/users/me");  // static wins over {id}

  req = MakeRequest(Method::kGet, "/v1/users/abc-123?x=1");
  m = router.Find(Method::kGet, req);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/v1/users/{id}");
  EXPECT_EQ(req.PathParam("id"), "abc-123");
  EXPECT_EQ(req.query(), "x=1");
}

TEST(Router, NotFoundVersusMethodNotAllowed) {
  Router router;
  router.Get("/v1/things/{id}", SyncHandler(Ok));
  router.Add(Method::kPut, "/v1/things/{id}", SyncHandler(Ok));
  auto req = MakeRequest(Method::kDelete, "/v1/things/7");
  auto m = router.Find(Method::kDelete, req);
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_exists);
  EXPECT_EQ(m.allow, "GET, PUT, HEAD");

  req = MakeRequest(Method::kGet, "/v1/things/7/extra");
  m = router.Find(Method::kGet, req);
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_exists);

  req = MakeRequest(Method::kGet, "/v1/things");
  EXPECT_FALSE(router.Find(Method::kGet, req).path_exists);
}

TEST(Request, QueryParamsAreDecodedAndBounded) {
  // The target sits in a larger buffer, as on a connection: a parameter must
  // never pick up the bytes that follow it.
  std::string buffer = "/p?x=1&q=a%20b&limit=2 HTTP/1.1\r\nHost: x";
  std::string_view target(buffer.data(), buffer.find(" HTTP"));
  Request r;
  r.Bind(nullptr, Method::kGet, "GET", target, "", "127.0.0.1");
  std::string v;
  ASSERT_TRUE(r.QueryParam("limit", v));
  EXPECT_EQ(v, "2");
  ASSERT_TRUE(r.QueryParam("q", v));
  EXPECT_EQ(v, "a b");
  EXPECT_FALSE(r.QueryParam("missing", v));
}

TEST(Router, HeadFallsBackToGet) {
  Router router;
  router.Get("/health", SyncHandler(Ok));
  auto req = MakeRequest(Method::kHead, "/health");
  auto m = router.Find(Method::kHead, req);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, Method::kGet);
}

TEST(Router, TrailingAndDoubleSlashesAreTolerated) {
  Router router;
  router.Get("/v1/users/{id}", SyncHandler(Ok));
  auto req = MakeRequest(Method::kGet, "/v1/users/42/");
  ASSERT_NE(router.Find(Method::kGet, req).route, nullptr);
  EXPECT_EQ(req.PathParam("id"), "42");
}

TEST(Router, RejectsBadOrDuplicatePatterns) {
  Router router;
  router.Get("/a/{id}", SyncHandler(Ok));
  EXPECT_THROW(router.Get("/a/{other}", SyncHandler(Ok)), std::invalid_argument);
  EXPECT_THROW(router.Get("no-slash", SyncHandler(Ok)), std::invalid_argument);
}

TEST(Router, RouteIndexesAreDense) {
  Router router;
  auto& a = router.Get("/a", SyncHandler(Ok));
  auto& b = router.Get("/b", SyncHandler(Ok));
  EXPECT_EQ(a.index, 0u);
  EXPECT_EQ(b.index, 1u);
}

}  // namespace
}  // namespace shopd::http

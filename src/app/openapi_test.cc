#include "app/openapi.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "http/response.h"
#include "http/router.h"

namespace shopd::app {
namespace {

http::Router SmallRouter() {
  http::Router router;
  auto ok = http::SyncHandler([](http::Request&) { return http::Response::Empty(204); });
  router.Get("/health", ok);
  router.Get("/v1/items/{id}", ok);
  router.Add(http::Method::kPut, "/v1/items/{id}", ok);
  return router;
}

constexpr const char* kMatching = R"({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {
  "/health": {"get": {"responses": {"204": {"description": "ok"}}}},
  "/v1/items/{id}": {"parameters": [], "get": {"responses": {}}, "put": {"responses": {}}}}})";

TEST(OpenApi, ADocumentWithExactlyTheRoutesPasses) {
  EXPECT_TRUE(CheckOpenApiMatchesRoutes(kMatching, SmallRouter()));
}

TEST(OpenApi, RoutesOfSeveralListenersAreCheckedTogether) {
  http::Router main = SmallRouter(), admin;
  admin.Get("/metrics", http::SyncHandler([](http::Request&) { return http::Response::Empty(204); }));
  std::string doc = kMatching;
  doc.insert(doc.rfind("}}"), R"(, "/metrics": {"get": {}})");
  EXPECT_FALSE(CheckOpenApiMatchesRoutes(doc, main));
  EXPECT_TRUE(CheckOpenApiMatchesRoutes(doc, {&main, &admin}));
}

TEST(OpenApi, EveryDifferenceIsNamed) {
  const char* doc = R"({"openapi": "3.0.3", "paths": {
    "/health": {"get": {}},
    "/v1/items/{id}": {"get": {}, "delete": {}},
    "/v1/gone": {"post": {}}}})";
  auto r = CheckOpenApiMatchesRoutes(doc, SmallRouter());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().internal.find("undocumented route: put /v1/items/{id}"), std::string::npos) << r.error().internal;
  EXPECT_NE(r.error().internal.find("documented but not routed: delete /v1/items/{id}"), std::string::npos);
  EXPECT_NE(r.error().internal.find("documented but not routed: post /v1/gone"), std::string::npos);
}

TEST(OpenApi, NotJsonOrNotOpenApi3IsRefused) {
  EXPECT_FALSE(CheckOpenApiMatchesRoutes("{", SmallRouter()));
  EXPECT_FALSE(CheckOpenApiMatchesRoutes(R"({"swagger": "2.0", "paths": {}})", SmallRouter()));
  EXPECT_FALSE(CheckOpenApiMatchesRoutes(R"({"openapi": "3.0.3"})", SmallRouter()));
  EXPECT_FALSE(CheckOpenApiMatchesRoutes("[]", SmallRouter()));
}

// The compiled-in document: JSON, OpenAPI 3, and every "$ref" resolves.
void CollectRefs(const boost::json::value& v, std::vector<std::string>& refs) {
  if (const auto* o = v.if_object()) {
    for (const auto& [k, child] : *o) {
      if (k == "$ref" && child.is_string()) refs.emplace_back(child.as_string());
      CollectRefs(child, refs);
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& child : *a) CollectRefs(child, refs);
  }
}

TEST(OpenApi, TheShippedDocumentIsOpenApi3AndEveryRefResolves) {
  boost::json::value doc = boost::json::parse(OpenApiDocument());
  ASSERT_TRUE(doc.is_object());
  EXPECT_TRUE(doc.at("openapi").as_string().starts_with("3."));
  std::vector<std::string> refs;
  CollectRefs(doc, refs);
  EXPECT_FALSE(refs.empty());
  for (const auto& ref : refs) {
    ASSERT_TRUE(ref.starts_with("#/")) << ref;
    const boost::json::value* at = &doc;
    std::string rest = ref.substr(2);
    while (!rest.empty()) {
      const size_t slash = rest.find('/');
      const std::string key = rest.substr(0, slash);
      rest = slash == std::string::npos ? "" : rest.substr(slash + 1);
      const auto* o = at->if_object();
      ASSERT_TRUE(o != nullptr && o->contains(key)) << "unresolved $ref " << ref;
      at = &o->at(key);
    }
  }
  // Every operation says what it answers.
  for (const auto& [path, item] : doc.at("paths").as_object())
    for (const auto& [method, op] : item.as_object())
      if (method != "parameters") EXPECT_TRUE(op.as_object().contains("responses")) << method << " " << path;
}

}  // namespace
}  // namespace shopd::app

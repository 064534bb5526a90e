#include "app/openapi.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <utility>

#include "app/openapi_document.h"
#include "http/method.h"
#include "http/response.h"
#include "http/router.h"

namespace shopd::app {
namespace {

using Operation = std::pair<std::string, std::string>;  // path template, lower-case method

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

std::string_view OpenApiDocument() { return kOpenApiDocument; }

void RegisterOpenApiRoute(http::Router& router) {
  router.Get("/v1/openapi.json", http::SyncHandler([](http::Request&) {
    http::Response res = http::Response::Json(200, std::string(OpenApiDocument()));
    res.SetHeader("Cache-Control", "public, max-age=300");
    return res;
  }));
}

core::Result<void> CheckOpenApiMatchesRoutes(std::string_view document, const http::Router& router) {
  return CheckOpenApiMatchesRoutes(document, {&router});
}

core::Result<void> CheckOpenApiMatchesRoutes(std::string_view document,
                                             std::initializer_list<const http::Router*> routers) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(document, ec);
  if (ec) return core::Error::Make(core::Errc::kInvalidArgument, "the OpenAPI document is not JSON", ec.message());
  const boost::json::object* root = doc.if_object();
  const boost::json::value* version_value = root ? root->if_contains("openapi") : nullptr;
  const boost::json::value* paths_value = root ? root->if_contains("paths") : nullptr;
  const boost::json::string* version = version_value ? version_value->if_string() : nullptr;
  const boost::json::object* paths = paths_value ? paths_value->if_object() : nullptr;
  if (version == nullptr || !version->starts_with("3.") || paths == nullptr)
    return core::Error::Make(core::Errc::kInvalidArgument, "not an OpenAPI 3 document with paths");

  static const std::set<std::string> kMethods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
  std::set<Operation> documented;
  for (const auto& [path, item] : *paths) {
    if (!item.is_object()) continue;
    for (const auto& [key, op] : item.as_object())
      if (kMethods.contains(std::string(key))) documented.emplace(std::string(path), std::string(key));
  }
  std::set<Operation> routed;
  for (const http::Router* router : routers)
    for (const auto& route : router->routes())
      if (route->method != http::Method::kHead)
        routed.emplace(route->pattern, Lower(http::MethodName(route->method)));

  std::string differences;
  for (const auto& [path, method] : routed)
    if (!documented.contains({path, method})) differences += " undocumented route: " + method + " " + path + ";";
  for (const auto& [path, method] : documented)
    if (!routed.contains({path, method})) differences += " documented but not routed: " + method + " " + path + ";";
  if (!differences.empty())
    return core::Error::Make(core::Errc::kInvalidArgument, "the OpenAPI document does not match the routes",
                             differences.substr(1));
  return {};
}

}  // namespace shopd::app

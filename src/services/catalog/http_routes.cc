#include "services/catalog/http_routes.h"

#include <charconv>

#include "http/json_body.h"
#include "http/problem.h"
#include "http/router.h"
#include "services/catalog/catalog_service.h"

namespace shopd::services {
namespace {

using boost::asio::awaitable;
using http::Request;
using http::Response;

core::Result<ProductInput> ReadProduct(const Request& req) {
  auto body = http::ParseJsonObject(req);
  if (!body) return body.error();
  http::FieldReader in(*body);
  ProductInput p;
  p.name = in.RequiredString("name");
  p.description = in.OptionalString("description").value_or("");
  p.price_cents = in.RequiredInt("price_cents");
  p.currency = in.RequiredString("currency");
  p.stock = in.RequiredInt("stock");
  in.RejectUnknown({"name", "description", "price_cents", "currency", "stock"});
  if (auto err = in.Finish()) return *err;
  return p;
}

// limit: 1..100, default 20; 0 when the client sent anything else. A plain
// int on purpose: it is read inside coroutines, where GCC 12 has mishandled
// result types with non-trivial members.
int ReadLimit(const Request& req) {
  std::string text;
  if (!req.QueryParam("limit", text)) return 20;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 1 || v > 100) return 0;
  return v;
}

core::Error BadLimit() {
  return core::Error::Invalid("limit must be an integer from 1 to 100").WithType("invalid-limit");
}

}  // namespace

void RegisterCatalogRoutes(http::Router& router, CatalogService& catalog) {
  const http::RouteOptions admin{.requires_auth = true, .no_store = true};

  router.Post("/v1/products", [&catalog](Request& req) -> awaitable<Response> {
    auto in = ReadProduct(req);
    if (!in) co_return http::ProblemFromError(req, in.error());
    auto created = co_await catalog.Create(*req.principal(), std::move(*in));
    if (!created) co_return http::ProblemFromError(req, created.error());
    co_return Response::Json(201, std::move(*created));
  }, admin);

  router.Put("/v1/products/{id}", [&catalog](Request& req) -> awaitable<Response> {
    auto in = ReadProduct(req);
    if (!in) co_return http::ProblemFromError(req, in.error());
    auto updated = co_await catalog.Update(*req.principal(), std::string(req.PathParam("id")), std::move(*in));
    if (!updated) co_return http::ProblemFromError(req, updated.error());
    co_return Response::Json(200, std::move(*updated));
  }, admin);

  router.Get("/v1/products/{id}", http::AsyncHandler([&catalog](Request& req) -> awaitable<Response> {
    auto doc = co_await catalog.Get(std::string(req.PathParam("id")));
    if (!doc) co_return http::ProblemFromError(req, doc.error());
    co_return Response::Json(200, std::move(*doc));
  }));

  router.Get("/v1/products", http::AsyncHandler([&catalog](Request& req) -> awaitable<Response> {
    const int limit = ReadLimit(req);
    if (limit == 0) co_return http::ProblemFromError(req, BadLimit());
    std::string cursor;
    req.QueryParam("cursor", cursor);
    auto page = co_await catalog.List(std::move(cursor), limit);
    if (!page) co_return http::ProblemFromError(req, page.error());
    co_return Response::Json(200, std::move(*page));
  }));
}

}  // namespace shopd::services

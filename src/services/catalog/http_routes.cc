#include "services/catalog/http_routes.h"


#include "http/json_body.h"
#include "http/paging.h"
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

// A non-admin learns nothing about what a valid product body would be: the
// role is checked before the body is read (the service checks it again).
std::optional<Response> RefuseNonAdmin(Request& req) {
  if (req.principal()->IsAdmin()) return std::nullopt;
  return http::ProblemFromError(
      req, core::Error::Make(core::Errc::kPermissionDenied, "only admins can change the catalog"));
}

}  // namespace

void RegisterCatalogRoutes(http::Router& router, CatalogService& catalog) {
  const http::RouteOptions admin{.requires_auth = true, .no_store = true};

  router.Post("/v1/products", [&catalog](Request& req) -> awaitable<Response> {
    if (auto refused = RefuseNonAdmin(req)) co_return std::move(*refused);
    auto in = ReadProduct(req);
    if (!in) co_return http::ProblemFromError(req, in.error());
    auto created = co_await catalog.Create(*req.principal(), std::move(*in));
    if (!created) co_return http::ProblemFromError(req, created.error());
    co_return Response::Json(201, std::move(*created));
  }, admin);

  router.Put("/v1/products/{id}", [&catalog](Request& req) -> awaitable<Response> {
    if (auto refused = RefuseNonAdmin(req)) co_return std::move(*refused);
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
    const int limit = http::PageLimit(req);
    if (limit == 0) co_return http::ProblemFromError(req, http::BadPageLimit());
    std::string cursor;
    req.QueryParam("cursor", cursor);
    auto page = co_await catalog.List(std::move(cursor), limit);
    if (!page) co_return http::ProblemFromError(req, page.error());
    co_return Response::Json(200, std::move(*page));
  }));
}

}  // namespace shopd::services

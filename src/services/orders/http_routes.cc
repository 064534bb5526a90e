#include "services/orders/http_routes.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>


#include "core/time_format.h"
#include "http/json_body.h"
#include "http/paging.h"
#include "http/problem.h"
#include "http/router.h"
#include "services/orders/orders_service.h"

namespace shopd::services {
namespace {

using boost::asio::awaitable;
using http::Request;
using http::Response;


// The payment as the client sees it: "none" until the saga decided.
std::string_view PaymentStatusName(const storage::Order& o) {
  if (o.payment == storage::PaymentStatus::kNone) return "none";
  return storage::ToString(o.payment);
}

boost::json::object OrderObject(const storage::Order& o) {
  boost::json::array items;
  for (const auto& i : o.items)
    items.push_back(boost::json::object{
        {"product_id", i.product_id}, {"quantity", i.quantity}, {"unit_price_cents", i.unit_price_cents}});
  boost::json::object doc{{"id", o.id},
                          {"status", storage::ToString(o.status)},
                          {"payment_status", PaymentStatusName(o)},
                          {"total_cents", o.total_cents},
                          {"currency", o.currency},
                          {"items", std::move(items)},
                          {"created_at", core::Rfc3339Millis(o.created_at)},
                          {"updated_at", core::Rfc3339Millis(o.updated_at)}};
  if (!o.reason.empty()) doc["reason"] = o.reason;
  return doc;
}

core::Result<std::vector<OrderLine>> ReadLines(const Request& req) {
  auto body = http::ParseJsonObject(req);
  if (!body) return body.error();
  http::FieldReader in(*body);
  std::vector<OrderLine> lines;
  if (const auto* items = in.RequiredArray("items")) {
    if (items->size() > 50) {
      in.AddError("items", "must hold 1 to 50 items");
    } else {
      for (size_t i = 0; i < items->size(); ++i) {
        const std::string prefix = "items[" + std::to_string(i) + "]";
        if (!(*items)[i].is_object()) {
          in.AddError(prefix, "must be an object {product_id, quantity}");
          continue;
        }
        http::FieldReader item((*items)[i].as_object());
        OrderLine line{item.RequiredString("product_id"), item.RequiredInt("quantity")};
        item.RejectUnknown({"product_id", "quantity"});
        if (auto err = item.Finish())
          for (auto& fe : err->field_errors) in.AddError(prefix + "." + fe.field, fe.message);
        lines.push_back(std::move(line));
      }
    }
  }
  in.RejectUnknown({"items"});
  if (auto err = in.Finish()) return *err;
  return lines;
}


}  // namespace

void RegisterOrderRoutes(http::Router& router, OrdersService& orders) {
  const http::RouteOptions owner{.requires_auth = true, .no_store = true};

  router.Post("/v1/orders", [&orders](Request& req) -> awaitable<Response> {
    auto lines = ReadLines(req);
    if (!lines) co_return http::ProblemFromError(req, lines.error());
    auto placed = co_await orders.Place(*req.principal(), std::string(req.Header("Idempotency-Key")),
                                        std::move(*lines));
    if (!placed) co_return http::ProblemFromError(req, placed.error());
    const storage::Order& accepted = placed->order;
    Response res = Response::Json(202, boost::json::serialize(OrderObject(accepted)));
    res.SetHeader("Location", "/v1/orders/" + accepted.id);
    if (placed->replayed) res.SetHeader("Idempotent-Replayed", "true");
    co_return res;
  }, owner);

  router.Get("/v1/orders/{id}", http::AsyncHandler([&orders](Request& req) -> awaitable<Response> {
    auto o = co_await orders.Get(*req.principal(), std::string(req.PathParam("id")));
    if (!o) co_return http::ProblemFromError(req, o.error());
    co_return Response::Json(200, boost::json::serialize(OrderObject(*o)));
  }), owner);

  router.Get("/v1/orders", http::AsyncHandler([&orders](Request& req) -> awaitable<Response> {
    const int limit = http::PageLimit(req);
    if (limit == 0) co_return http::ProblemFromError(req, http::BadPageLimit());
    std::string cursor;
    req.QueryParam("cursor", cursor);
    auto page = co_await orders.List(*req.principal(), std::move(cursor), limit);
    if (!page) co_return http::ProblemFromError(req, page.error());
    boost::json::array items;
    for (const auto& o : page->items) items.push_back(OrderObject(o));
    boost::json::object doc{{"items", std::move(items)}};
    if (page->next_cursor) doc["next_cursor"] = *page->next_cursor;
    else doc["next_cursor"] = nullptr;
    co_return Response::Json(200, boost::json::serialize(doc));
  }), owner);

  router.Post("/v1/orders/{id}/cancel", [&orders](Request& req) -> awaitable<Response> {
    auto o = co_await orders.Cancel(*req.principal(), std::string(req.PathParam("id")));
    if (!o) co_return http::ProblemFromError(req, o.error());
    // A paid order is cancelled once its refund went through: until then the
    // request is accepted, not done (poll the order for `cancelled`).
    const int status = o->status == storage::OrderStatus::kCancelling ? 202 : 200;
    co_return Response::Json(status, boost::json::serialize(OrderObject(*o)));
  }, owner);
}

}  // namespace shopd::services

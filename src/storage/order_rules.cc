#include "storage/order_rules.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <utility>
#include <vector>

namespace shopd::storage {

core::Result<Order> PriceOrder(const NewOrder& in,
                               const std::function<std::optional<CatalogPrice>(const std::string&)>& lookup) {
  Order o;
  o.id = in.id;
  o.user_id = in.user_id;
  o.status = OrderStatus::kPending;
  o.created_at = o.updated_at = in.now_ms;
  std::vector<core::FieldError> errors;
  for (size_t i = 0; i < in.items.size(); ++i) {
    const OrderItem& item = in.items[i];
    const std::string field = "items[" + std::to_string(i) + "].product_id";
    std::optional<CatalogPrice> price = lookup(item.product_id);
    if (!price) {
      errors.push_back({field, "no such product"});
      continue;
    }
    if (o.currency.empty()) o.currency = price->currency;
    if (price->currency != o.currency) errors.push_back({field, "all items must share one currency"});
    o.total_cents += price->price_cents * item.quantity;
    o.items.push_back(OrderItem{item.product_id, item.quantity, price->price_cents});
  }
  if (!errors.empty()) return core::Error::Invalid("the order cannot be placed", std::move(errors));
  return o;
}

std::string OrderEventPayload(const Order& o) {
  boost::json::object payload{{"order_id", o.id}, {"user_id", o.user_id}, {"status", ToString(o.status)}};
  if (!o.reason.empty()) payload["reason"] = o.reason;
  return boost::json::serialize(payload);
}

namespace order_errors {
using core::Errc;
using core::Error;

Error NoSuchOrder() { return Error::Make(Errc::kNotFound, "no such order"); }
Error KeyReusedWithAnotherBody() {
  return Error::Make(Errc::kUnprocessable, "this Idempotency-Key was used with a different request body")
      .WithType("idempotency-key-reuse");
}
Error TooManyPendingOrders() {
  return Error::Make(Errc::kRateLimited, "too many pending orders; retry when some are confirmed")
      .WithType("too-many-pending-orders");
}
Error NotCancellable() {
  return Error::Make(Errc::kConflict, "a rejected order cannot be cancelled").WithType("order-not-cancellable");
}
Error NoRefundPending(PaymentStatus payment) {
  return Error::Make(Errc::kConflict, "this order has no refund pending",
                     "payment is '" + std::string(ToString(payment)) + "'");
}
}  // namespace order_errors

}  // namespace shopd::storage

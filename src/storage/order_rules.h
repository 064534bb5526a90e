// storage: what every OrderStore backend decides the same way — pricing an
// order from catalog rows, the order events' payload, and the refusals the
// contract names — so that the backends differ only in how they persist.
// Depends on core.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/error.h"
#include "storage/order_store.h"

namespace shopd::storage {

// A product's price and currency as the catalog holds them.
struct CatalogPrice {
  int64_t price_cents = 0;
  std::string currency;
};

// The pending order `in` describes, priced with `lookup` (nullopt: no such
// product); kInvalidArgument with a field error per unknown product or
// currency that differs from the first item's.
core::Result<Order> PriceOrder(const NewOrder& in,
                               const std::function<std::optional<CatalogPrice>(const std::string&)>& lookup);

// The JSON payload of an order's outbox event: order_id, user_id, status and,
// when set, reason.
std::string OrderEventPayload(const Order& order);

namespace order_errors {
core::Error NoSuchOrder();
core::Error KeyReusedWithAnotherBody();
core::Error TooManyPendingOrders();
core::Error NotCancellable();
core::Error NoRefundPending(PaymentStatus payment);
}  // namespace order_errors

}  // namespace shopd::storage

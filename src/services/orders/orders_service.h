// services/orders: placing, reading and cancelling orders — domain logic over
// OrderStore, free of HTTP. Depends on core, storage, ratelimit.
//
// Placing an order only validates and commits it (pending, with its
// `order.created` event in the same transaction); the saga in workers/ takes
// it from there. So a 202 means: durably accepted, never lost.
//
// Per-user limits (OrdersConfig): a rate (GCRA through the RateLimiter, so it
// is global wherever the limiter is) and a cap on pending orders (enforced by
// the store in the order's transaction). Over either: kRateLimited. A retry of
// an order already placed (same Idempotency-Key and body) is never refused by
// either: it is answered with the order as it was accepted.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/principal.h"
#include "ratelimit/rate_limiter.h"
#include "services/orders/orders_config.h"
#include "storage/order_store.h"

namespace shopd::services {

struct OrderLine {
  std::string product_id;
  int64_t quantity = 0;
};

class OrdersService {
 public:
  // `on_change` runs after each committed change with "placed" or "cancelled"
  // (e.g. to wake the outbox relay and count orders).
  using ChangeHook = std::function<void(std::string_view change)>;
  OrdersService(const OrdersConfig& config, storage::OrderStore& store, ratelimit::RateLimiter& limiter,
                const core::Clock& clock, ChangeHook on_change = {});

  boost::asio::awaitable<core::Result<storage::CreatedOrder>> Place(const core::Principal& caller,
                                                                    std::string idempotency_key,
                                                                    std::vector<OrderLine> lines);
  boost::asio::awaitable<core::Result<storage::Order>> Get(const core::Principal& caller, std::string id);
  boost::asio::awaitable<core::Result<storage::OrderPage>> List(const core::Principal& caller, std::string cursor,
                                                                int limit);
  // An unpaid order is cancelled at once; a paid one becomes `cancelling`
  // (payment refund_pending, stock given back) until its refund job has
  // refunded it, then `cancelled` (refunded). Repeating a cancel changes
  // nothing; a rejected order is kConflict.
  boost::asio::awaitable<core::Result<storage::Order>> Cancel(const core::Principal& caller, std::string id);

  // 1..255 visible ASCII characters.
  static bool ValidIdempotencyKey(std::string_view key);
  // Same lines in the same order -> same hash; used to tell a retry from a reuse.
  static std::string RequestHash(const std::vector<OrderLine>& lines);
  static std::optional<core::Error> Validate(const std::vector<OrderLine>& lines);

 private:
  // Over the rate: a retry of a placed order is still answered, anything else refused.
  boost::asio::awaitable<core::Result<storage::CreatedOrder>> ReplayOrRefuse(const core::Principal& caller,
                                                                             std::string idempotency_key,
                                                                             const std::string& request_hash,
                                                                             const ratelimit::Decision& gate);

  const OrdersConfig config_;
  storage::OrderStore& store_;
  ratelimit::RateLimiter& limiter_;
  const core::Clock& clock_;
  ChangeHook on_change_;
};

}  // namespace shopd::services

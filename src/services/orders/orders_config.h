// services/orders: settings of the orders service — the per-user limits on
// placing orders. Depends on config, core.
//
// The rate is a GCRA bucket per user: `order_burst` orders at once, refilled at
// `orders_per_minute`. The pending cap counts the user's orders still waiting
// for the saga; the store enforces it in the order's own write transaction.
#pragma once

#include <cstdint>

#include "config/config_source.h"
#include "core/error.h"

namespace shopd::services {

struct OrdersConfig {
  int64_t orders_per_minute = 10;            // sustained rate per user
  int64_t order_burst = 20;                  // orders a user may place at once
  int64_t max_pending_orders_per_user = 20;  // beyond this, 429 until some finish

  // The limiter's window for "burst orders, refilled at the rate":
  // a bucket of `order_burst` that refills completely in burst / rate minutes.
  int64_t RateWindowMs() const { return order_burst * 60'000 / orders_per_minute; }

  static void Declare(config::ConfigSource& src);
  static core::Result<OrdersConfig> Load(const config::ConfigSource& src);
};

}  // namespace shopd::services

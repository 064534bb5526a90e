#include "services/orders/orders_config.h"

namespace shopd::services {

void OrdersConfig::Declare(config::ConfigSource& src) {
  src.Declare({"orders-per-minute", "10", "orders a user may place per minute, sustained (at most 60000)"});
  src.Declare({"order-burst", "20", "orders a user may place at once before the per-minute rate applies"});
  src.Declare({"max-pending-orders-per-user", "20", "orders of one user still pending at once; beyond that 429"});
}

core::Result<OrdersConfig> OrdersConfig::Load(const config::ConfigSource& src) {
  OrdersConfig c;
  config::ConfigErrors errs;
  // The limiter counts in whole milliseconds: one order per ms is its finest rate.
  errs.Take(src.GetInt("orders-per-minute", 1, 60'000), c.orders_per_minute);
  // An int for the limiter; the window (burst * 60000 / rate) stays far from overflow.
  errs.Take(src.GetInt("order-burst", 1, 1'000'000'000), c.order_burst);
  errs.Take(src.GetInt("max-pending-orders-per-user", 1, 1'000'000'000), c.max_pending_orders_per_user);
  if (auto r = errs.Finish(); !r) return r.error();
  return c;
}

}  // namespace shopd::services

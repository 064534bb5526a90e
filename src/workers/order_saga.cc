#include "workers/order_saga.h"

namespace shopd::workers {

using storage::ReserveOutcome;

boost::asio::awaitable<core::Result<std::string>> OrderSaga::Run(std::string order_id) {
  auto reserved = co_await orders_.ReserveStock(order_id, clock_.UnixMillis());
  if (!reserved) co_return reserved.error();
  // Out of stock (already rejected in the same transaction) or no longer
  // pending (cancelled, or finished by an earlier delivery): nothing to do.
  if (*reserved == ReserveOutcome::kOutOfStock) co_return std::string("rejected");
  if (*reserved != ReserveOutcome::kReserved) co_return std::string();

  auto order = co_await orders_.LoadOrder(order_id);
  if (!order) co_return order.error();
  std::string decision = order->payment;
  if (decision.empty()) {
    auto charged = co_await payments_.Charge(*order);
    if (!charged) co_return charged.error();
    // The first recorded decision wins, so a redelivery never charges twice
    // into a different outcome.
    auto recorded = co_await orders_.RecordPayment(order_id, *charged);
    if (!recorded) co_return recorded.error();
    decision = *recorded;
  }
  if (decision == "approved") {
    auto confirmed = co_await orders_.ConfirmOrder(order_id, clock_.UnixMillis());
    if (!confirmed) co_return confirmed.error();
    co_return confirmed->status == "confirmed" ? std::string("confirmed") : std::string();
  }
  auto rejected = co_await orders_.RejectOrder(order_id, "payment_declined", clock_.UnixMillis());
  if (!rejected) co_return rejected.error();
  co_return rejected->status == "rejected" ? std::string("rejected") : std::string();
}

}  // namespace shopd::workers

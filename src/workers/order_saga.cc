#include "workers/order_saga.h"

#include "workers/provider_timeout.h"

namespace shopd::workers {

using storage::ReserveOutcome;

boost::asio::awaitable<core::Result<bool>> OrderSaga::ChargeWithTimeout(const storage::Order& order) {
  co_return co_await WithProviderTimeout(payments_.Charge(order), payment_timeout_, "charge");
}

boost::asio::awaitable<core::Result<std::optional<storage::OrderStatus>>> OrderSaga::Run(std::string order_id) {
  using storage::OrderStatus;
  using storage::PaymentStatus;
  auto reserved = co_await orders_.ReserveStock(order_id, clock_.UnixMillis());
  if (!reserved) co_return reserved.error();
  // Out of stock (rejected in the same transaction), or no longer pending
  // (cancelled, or finished by an earlier delivery): nothing more to do.
  if (reserved->outcome == ReserveOutcome::kOutOfStock) co_return OrderStatus::kRejected;
  if (reserved->outcome != ReserveOutcome::kReserved) co_return std::nullopt;

  // A redelivery after the decision was recorded must not ask the provider
  // again: the recorded decision wins (SettlePayment keeps the first one).
  bool approved = reserved->order.payment == PaymentStatus::kApproved;
  if (reserved->order.payment == PaymentStatus::kNone) {
    auto charged = co_await ChargeWithTimeout(reserved->order);
    if (!charged) co_return charged.error();
    approved = *charged;
  }
  auto settled = co_await orders_.SettlePayment(order_id, approved, clock_.UnixMillis());
  if (!settled) co_return settled.error();
  // Cancelled in between: the cancellation released the stock and counted
  // itself, and an approval that came too late is being refunded.
  if (settled->status != OrderStatus::kConfirmed && settled->status != OrderStatus::kRejected) co_return std::nullopt;
  co_return settled->status;
}

}  // namespace shopd::workers

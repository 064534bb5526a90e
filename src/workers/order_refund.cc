#include "workers/order_refund.h"

#include "workers/provider_timeout.h"

namespace shopd::workers {

boost::asio::awaitable<core::Result<bool>> OrderRefund::Run(std::string order_id) {
  auto order = co_await orders_.LoadOrder(order_id);
  if (!order) co_return order.error();
  if (order->payment != storage::PaymentStatus::kRefundPending) co_return false;
  auto refunded = co_await WithProviderTimeout(payments_.Refund(*order), provider_timeout_, "refund");
  if (!refunded) co_return refunded.error();
  auto recorded = co_await orders_.CompleteRefund(std::move(order_id), clock_.UnixMillis());
  if (!recorded) co_return recorded.error();
  co_return true;
}

}  // namespace shopd::workers

// workers: the refund of a cancelled order — give the money back through the
// payment provider, then record it (refunded, and a cancelling order becomes
// cancelled). Depends on storage and PaymentProvider.
//
// Run for an order id by a job worker of the refund queue, at least once: the
// job comes from the `order.refund_requested` event the cancellation wrote in
// its own transaction, so a crash at any point leaves the refund to be done,
// never forgotten. A failed or timed-out provider call fails the run, and the
// job is retried with backoff (then dead-lettered for an operator, never
// dropped). The provider is asked with the order id as its idempotency key,
// so a retry after an unknown outcome refunds once.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "storage/order_store.h"
#include "workers/payment_provider.h"

namespace shopd::workers {

class OrderRefund {
 public:
  // A refund without an answer within `provider_timeout` fails the run.
  OrderRefund(storage::OrderStore& orders, PaymentProvider& payments, const core::Clock& clock,
              std::chrono::milliseconds provider_timeout = std::chrono::seconds(5))
      : orders_(orders), payments_(payments), clock_(clock), provider_timeout_(provider_timeout) {}

  // True when this run refunded the order; false when there was nothing (left)
  // to refund (an earlier run did it).
  boost::asio::awaitable<core::Result<bool>> Run(std::string order_id);

 private:
  storage::OrderStore& orders_;
  PaymentProvider& payments_;
  const core::Clock& clock_;
  const std::chrono::milliseconds provider_timeout_;
};

}  // namespace shopd::workers

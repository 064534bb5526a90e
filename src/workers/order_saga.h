// workers: the order saga — reserve stock, take payment, confirm; on a decline,
// release the stock and reject. Depends on storage, and PaymentProvider.
//
// Run for an order id by a job worker, at least once. Every step is idempotent
// in the store (a reservation is taken once, the payment decision is recorded
// once, a status changes once), so a redelivered job changes nothing twice.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "storage/order_store.h"
#include "workers/payment_provider.h"

namespace shopd::workers {

class OrderSaga {
 public:
  // A charge that takes longer than `payment_timeout` is abandoned as
  // "outcome unknown": the run fails, and the job is retried with backoff
  // (and dead-lettered for an operator after its attempts), never rejected,
  // since the provider may have taken the money.
  OrderSaga(storage::OrderStore& orders, PaymentProvider& payments, const core::Clock& clock,
            std::chrono::milliseconds payment_timeout = std::chrono::seconds(5))
      : orders_(orders), payments_(payments), clock_(clock), payment_timeout_(payment_timeout) {}

  // Drives one order to a final status (or leaves it for a retry on error).
  // Returns the status this run moved the order to (confirmed, rejected), or
  // nullopt when an earlier run or a cancellation had already finished it.
  boost::asio::awaitable<core::Result<std::optional<storage::OrderStatus>>> Run(std::string order_id);

 private:
  boost::asio::awaitable<core::Result<bool>> ChargeWithTimeout(const storage::Order& order);

  storage::OrderStore& orders_;
  PaymentProvider& payments_;
  const core::Clock& clock_;
  const std::chrono::milliseconds payment_timeout_;
};

}  // namespace shopd::workers

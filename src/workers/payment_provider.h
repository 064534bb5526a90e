// workers: the payment provider the order saga charges and the refund job
// refunds. The embedded topology ships a simulated one (configurable decline
// rate, latency and failing refunds) so tests and benchmarks can exercise
// every branch.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "storage/order_store.h"

namespace shopd::workers {

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // true = approved, false = declined; an error means "unknown, retry later".
  // The saga may charge one order again (after a timeout, a crash, a lease
  // lost), so a real provider must be called with the order id as its
  // idempotency key. Must stop when its coroutine is cancelled (the saga's
  // timeout does that).
  virtual boost::asio::awaitable<core::Result<bool>> Charge(const storage::Order& order) = 0;
  // Gives the money taken for `order` back; an error means "not known to be
  // refunded, retry later". The refund job may call it again for one order
  // (after a timeout, a crash, a lease lost), so a real provider must be
  // called with the order id as its idempotency key: one refund per order,
  // however often it is asked. Must stop when its coroutine is cancelled.
  virtual boost::asio::awaitable<core::Result<void>> Refund(const storage::Order& order) = 0;
};

struct SimulatedPaymentOptions {
  double decline_rate = 0.0;               // 0..1
  std::chrono::milliseconds latency{0};  // per charge or refund, waited on a timer (never blocking)
  int64_t failing_refunds = 0;           // the first this many refunds fail (to exercise the retries)
};

class SimulatedPaymentProvider final : public PaymentProvider {
 public:
  explicit SimulatedPaymentProvider(SimulatedPaymentOptions options)
      : options_(options), refunds_to_fail_(options.failing_refunds) {}

  // PaymentProvider
  boost::asio::awaitable<core::Result<bool>> Charge(const storage::Order& order) override;
  // Nothing was taken, so nothing to give back twice: idempotent by nature.
  boost::asio::awaitable<core::Result<void>> Refund(const storage::Order& order) override;

 private:
  boost::asio::awaitable<void> Wait();

  SimulatedPaymentOptions options_;
  std::atomic<int64_t> refunds_to_fail_;
};

}  // namespace shopd::workers

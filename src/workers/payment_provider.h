// workers: the payment provider the order saga charges. The embedded topology
// ships a simulated one (configurable decline rate and latency) so tests and
// benchmarks can exercise both saga branches.
#pragma once

#include <boost/asio/awaitable.hpp>

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
};

struct SimulatedPaymentOptions {
  double decline_rate = 0.0;               // 0..1
  std::chrono::milliseconds latency{0};  // per charge, waited on a timer (never blocking)
};

class SimulatedPaymentProvider final : public PaymentProvider {
 public:
  explicit SimulatedPaymentProvider(SimulatedPaymentOptions options) : options_(options) {}
  boost::asio::awaitable<core::Result<bool>> Charge(const storage::Order& order) override;

 private:
  SimulatedPaymentOptions options_;
};

}  // namespace shopd::workers

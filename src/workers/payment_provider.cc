#include "workers/payment_provider.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/random.h"

namespace shopd::workers {

boost::asio::awaitable<void> SimulatedPaymentProvider::Wait() {
  if (options_.latency.count() <= 0) co_return;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, options_.latency);
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

boost::asio::awaitable<core::Result<void>> SimulatedPaymentProvider::Refund(const storage::Order&) {
  co_await Wait();
  if (refunds_to_fail_.fetch_sub(1) > 0)
    co_return core::Error::Make(core::Errc::kUnavailable, "payment provider unavailable", "simulated refund failure");
  co_return core::Result<void>{};
}

boost::asio::awaitable<core::Result<bool>> SimulatedPaymentProvider::Charge(const storage::Order& order) {
  co_await Wait();
  uint64_t draw = 0;
  core::SecureRandomBytes(&draw, sizeof draw);
  const double u = static_cast<double>(draw >> 11) / static_cast<double>(uint64_t{1} << 53);
  co_return u >= options_.decline_rate;
}

}  // namespace shopd::workers

#include "workers/order_saga.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <tuple>
#include <variant>

namespace shopd::workers {

using storage::ReserveOutcome;

boost::asio::awaitable<core::Result<bool>> OrderSaga::ChargeWithTimeout(const storage::Order& order) {
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::steady_timer deadline(co_await boost::asio::this_coro::executor, payment_timeout_);
  // Whichever finishes first wins; the other is cancelled (and awaited).
  std::variant<core::Result<bool>, std::tuple<boost::system::error_code>> first =
      co_await (payments_.Charge(order) || deadline.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
  if (first.index() == 0) co_return std::get<0>(std::move(first));
  co_return core::Error::Make(core::Errc::kUnavailable, "payment provider timed out",
                              "no answer within " + std::to_string(payment_timeout_.count()) + " ms");
}

boost::asio::awaitable<core::Result<std::string>> OrderSaga::Run(std::string order_id) {
  auto reserved = co_await orders_.ReserveStock(order_id, clock_.UnixMillis());
  if (!reserved) co_return reserved.error();
  // Out of stock (rejected in the same transaction), or no longer pending
  // (cancelled, or finished by an earlier delivery): nothing more to do.
  if (reserved->outcome == ReserveOutcome::kOutOfStock) co_return std::string("rejected");
  if (reserved->outcome != ReserveOutcome::kReserved) co_return std::string();

  // A redelivery after the decision was recorded must not ask the provider
  // again: the recorded decision wins (SettlePayment keeps the first one).
  bool approved = reserved->order.payment == "approved";
  if (reserved->order.payment.empty()) {
    auto charged = co_await ChargeWithTimeout(reserved->order);
    if (!charged) co_return charged.error();
    approved = *charged;
  }
  auto settled = co_await orders_.SettlePayment(order_id, approved, clock_.UnixMillis());
  if (!settled) co_return settled.error();
  // Cancelled in between: the cancellation released the stock and counted itself.
  if (settled->status != "confirmed" && settled->status != "rejected") co_return std::string();
  co_return settled->status;
}

}  // namespace shopd::workers

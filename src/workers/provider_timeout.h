// workers: bounds a call to the payment provider in time. Whichever finishes
// first wins: the call's answer, or the deadline, which cancels the call (and
// waits for it to stop) and answers kUnavailable — "outcome unknown", for the
// caller to retry through its job, never to take as a "no".
//
//   auto charged = co_await WithProviderTimeout(payments.Charge(order), 5s, "charge");
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>

#include "core/error.h"

namespace shopd::workers {

template <class T>
boost::asio::awaitable<core::Result<T>> WithProviderTimeout(boost::asio::awaitable<core::Result<T>> call,
                                                            std::chrono::milliseconds timeout, std::string_view what) {
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::steady_timer deadline(co_await boost::asio::this_coro::executor, timeout);
  std::variant<core::Result<T>, std::tuple<boost::system::error_code>> first =
      co_await (std::move(call) || deadline.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
  if (first.index() == 0) co_return std::get<0>(std::move(first));
  co_return core::Error::Make(core::Errc::kUnavailable, "payment provider timed out",
                              std::string(what) + ": no answer within " + std::to_string(timeout.count()) + " ms");
}

}  // namespace shopd::workers

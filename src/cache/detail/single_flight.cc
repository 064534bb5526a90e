#include "cache/detail/single_flight.h"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>
#include <vector>

namespace shopd::cache::detail {
namespace {

using WaitResult = std::optional<core::Result<std::string>>;

core::Error Unavailable(std::string internal) {
  return core::Error{core::Errc::kUnavailable, "temporarily unavailable, retry shortly", {}, std::move(internal), 1, {}};
}

struct Waiter {
  boost::asio::any_io_executor executor;
  boost::asio::any_completion_handler<void(WaitResult)> handler;
};

// Resumes a waiter on its own executor.
void Complete(Waiter waiter, WaitResult result) {
  boost::asio::post(waiter.executor, [handler = std::move(waiter.handler), result = std::move(result)]() mutable {
    std::move(handler)(std::move(result));
  });
}

}  // namespace

struct SingleFlight::Flight {
  std::vector<Waiter> waiters;
};

SingleFlight::Lead::Lead(SingleFlight& flights, std::string key, std::shared_ptr<Flight> flight)
    : flights_(flights), key_(std::move(key)), flight_(std::move(flight)) {}

SingleFlight::Lead::~Lead() {
  if (!finished_) Finish(Unavailable("cache: the load of this key was abandoned"));
}

void SingleFlight::Lead::Finish(const core::Result<std::string>& result) {
  finished_ = true;
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(flights_.mu_);
    auto it = flights_.flights_.find(key_);
    if (it != flights_.flights_.end() && it->second == flight_) flights_.flights_.erase(it);
    waiters.swap(flight_->waiters);
  }
  for (Waiter& w : waiters) Complete(std::move(w), result);
}

SingleFlight::SingleFlight(size_t max_waiters_per_key) : max_waiters_per_key_(max_waiters_per_key) {}

boost::asio::awaitable<SingleFlight::Turn> SingleFlight::Join(std::string key) {
  for (;;) {
    std::shared_ptr<Flight> led;
    {
      std::lock_guard lock(mu_);
      if (flights_.find(key) == flights_.end()) {
        led = std::make_shared<Flight>();
        flights_.emplace(key, led);
      }
    }
    if (led) co_return Turn{std::make_unique<Lead>(*this, std::move(key), std::move(led)), std::nullopt};
    WaitResult joined = co_await Wait(key);
    if (joined) co_return Turn{nullptr, std::move(joined)};
  }
}

boost::asio::awaitable<WaitResult> SingleFlight::Wait(std::string_view key) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(WaitResult)>(
      [this, key](auto handler) {
        boost::asio::any_io_executor executor = boost::asio::get_associated_executor(handler);
        std::unique_lock lock(mu_);
        auto it = flights_.find(key);
        if (it != flights_.end() && it->second->waiters.size() < max_waiters_per_key_) {
          it->second->waiters.push_back(Waiter{std::move(executor), std::move(handler)});
          return;
        }
        const bool gone = it == flights_.end();
        lock.unlock();
        WaitResult result;  // nullopt: look again
        if (!gone) result = core::Result<std::string>(Unavailable("cache: too many callers waiting for one key"));
        Complete(Waiter{std::move(executor), std::move(handler)}, std::move(result));
      },
      boost::asio::use_awaitable);
}

void SingleFlight::Detach(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = flights_.find(key);
  if (it != flights_.end()) flights_.erase(it);
}

}  // namespace shopd::cache::detail

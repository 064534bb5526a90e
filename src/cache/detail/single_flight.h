// cache/detail: one load per key at a time within a process ("single
// flight"), for backends whose entries live elsewhere (Redis). Internal;
// depends on core.
//
// The first caller for a key leads: it loads and Finishes. Callers that come
// while it does wait and get the leader's result, resuming on their own
// executors. A leader that goes away without finishing (an exception, its
// coroutine destroyed) releases its waiters with kUnavailable.
//
//   SingleFlight::Turn turn = co_await flights.Join(key);
//   if (!turn.lead) co_return std::move(*turn.result);   // another caller's result
//   core::Result<std::string> r = co_await Load();
//   turn.lead->Finish(r);
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace shopd::cache::detail {

class SingleFlight {
 public:
  struct Flight;

  class Lead {
   public:
    Lead(SingleFlight& flights, std::string key, std::shared_ptr<Flight> flight);
    ~Lead();
    Lead(const Lead&) = delete;
    Lead& operator=(const Lead&) = delete;
    // Hands `result` to every waiter; later callers start a new flight.
    void Finish(const core::Result<std::string>& result);

   private:
    SingleFlight& flights_;
    std::string key_;
    std::shared_ptr<Flight> flight_;
    bool finished_ = false;
  };

  // Exactly one of the two is set.
  struct Turn {
    std::unique_ptr<Lead> lead;
    std::optional<core::Result<std::string>> result;
  };

  // Callers beyond `max_waiters_per_key` for one key fail fast with kUnavailable.
  explicit SingleFlight(size_t max_waiters_per_key);
  SingleFlight(const SingleFlight&) = delete;
  SingleFlight& operator=(const SingleFlight&) = delete;

  boost::asio::awaitable<Turn> Join(std::string key);
  // A write: callers from now on start a new flight instead of joining the
  // current one, whose result may predate the write.
  void Detach(std::string_view key);

 private:
  // Parks the caller on the key's flight; nullopt when that flight ended
  // before it could join (look again).
  boost::asio::awaitable<std::optional<core::Result<std::string>>> Wait(std::string_view key);

  const size_t max_waiters_per_key_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Flight>, std::less<>> flights_;
};

}  // namespace shopd::cache::detail

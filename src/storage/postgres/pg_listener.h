// storage/postgres: LISTEN on a dedicated connection and wake the caller on
// each NOTIFY, so replicas' background loops sleep until another replica
// committed work for them (no hot polling). Depends on core and the
// connection.
//
// Notifications are hints, never the only path: after every (re)connect the
// callback runs once (notifications sent while disconnected are lost), and
// the loops keep their long safety-net timers. A broken connection is
// replaced with backoff (200 ms doubling to 5 s); an idle one is checked
// every `ping_interval`.
//
//   PgListener listener(io.get_executor(), conninfo, {"shopd_events"}, [&] { loops.Wake(); });
//   listener.Start();
//   ...
//   co_await listener.Stop();
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace shopd::storage::postgres {

struct PgListenerOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds ping_interval{30'000};
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
};

class PgListener {
 public:
  // Runs on `executor` (one thread: the callback, the loop and Stop share it).
  PgListener(boost::asio::any_io_executor executor, std::string conninfo, std::vector<std::string> channels,
             std::function<void()> on_notify, PgListenerOptions options = {});
  ~PgListener();
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  void Start();
  // Completes once the loop has returned and its connection is closed.
  boost::asio::awaitable<void> Stop();
  // Whether it is connected and listening now.
  bool listening() const;

 private:
  struct State;
  static boost::asio::awaitable<void> Loop(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace shopd::storage::postgres

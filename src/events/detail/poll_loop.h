// events: the plumbing shared by the background loops of this module (the
// outbox relay, EventConsumer): a strand, a sleep that Kick() cuts short, and
// a Stop() that waits for the loop to return. Internal; depends on Asio only.
//
// The loop body and every posted wake-up hold a shared_ptr to the PollLoop, so
// it outlives them whatever the owner does.
//
//   auto loop = std::make_shared<PollLoop>(executor);
//   loop->Start(Body(loop));      // Body: while (!loop->stopping()) { ...; co_await loop->Sleep(10); }
//   loop->Kick();                 // any thread
//   co_await loop->Stop();        // any executor
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace shopd::events::detail {

class PollLoop : public std::enable_shared_from_this<PollLoop> {
 public:
  PollLoop(const boost::asio::any_io_executor& executor, std::string name);

  // Runs `body` on the strand. Call once.
  void Start(boost::asio::awaitable<void> body);
  // Ends the body's current kickable Sleep (or its next one). Any thread.
  void Kick();
  // Asks the body to return, without waiting; nothing once it has. Any thread.
  void RequestStop();
  // Asks the body to return, then waits until it has. Idempotent; any executor.
  boost::asio::awaitable<void> Stop();

  // For the body, on the strand.
  bool stopping() const { return stopping_; }
  // Returns after `ms`, on stop, or on Kick when `kickable`.
  boost::asio::awaitable<void> Sleep(int64_t ms, bool kickable = true);

  const boost::asio::strand<boost::asio::any_io_executor>& strand() const { return strand_; }

 private:
  static boost::asio::awaitable<void> WaitStopped(std::shared_ptr<PollLoop> self);

  const std::string name_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer wake_;
  boost::asio::steady_timer done_;
  bool kicked_ = false;
  bool stopping_ = false;
  bool finished_ = true;
  std::atomic<bool> returned_{false};  // the body has returned; any thread
};

}  // namespace shopd::events::detail

#include "events/detail/poll_loop.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <utility>

#include "core/error.h"
#include "obs/log.h"

namespace shopd::events::detail {

namespace asio = boost::asio;

PollLoop::PollLoop(const asio::any_io_executor& executor, std::string name)
    : name_(std::move(name)),
      strand_(asio::make_strand(executor)),
      wake_(strand_),
      done_(strand_, asio::steady_timer::time_point::max()) {}

void PollLoop::Start(asio::awaitable<void> body) {
  finished_ = false;
  // The completion runs on the strand (a handler without an executor of its
  // own gets the spawning one).
  asio::co_spawn(strand_, std::move(body), [self = shared_from_this()](std::exception_ptr e) {
    if (e) obs::LogError("poll_loop_crashed", {{"loop", self->name_}, {"error", core::ExceptionText(e)}});
    self->finished_ = true;
    self->returned_ = true;
    self->done_.cancel();
  });
}

void PollLoop::Kick() {
  asio::post(strand_, [self = shared_from_this()] {
    self->kicked_ = true;
    self->wake_.cancel();
  });
}

void PollLoop::RequestStop() {
  if (returned_) return;
  asio::post(strand_, [self = shared_from_this()] {
    self->stopping_ = true;
    self->wake_.cancel();
  });
}

asio::awaitable<void> PollLoop::Sleep(int64_t ms, bool kickable) {
  if (stopping_ || (kickable && kicked_)) {
    if (kickable) kicked_ = false;
    co_return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
    wake_.expires_at(deadline);
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (kickable && kicked_) break;
  }
  if (kickable) kicked_ = false;
}

asio::awaitable<void> PollLoop::WaitStopped(std::shared_ptr<PollLoop> self) {
  self->stopping_ = true;
  self->wake_.cancel();
  while (!self->finished_) co_await self->done_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> PollLoop::Stop() {
  co_await asio::co_spawn(strand_, WaitStopped(shared_from_this()), asio::use_awaitable);
}

}  // namespace shopd::events::detail

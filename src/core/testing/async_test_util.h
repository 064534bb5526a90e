// core/testing: helpers for tests that drive coroutines and background loops.
// Header-only, for test targets only.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <thread>

namespace shopd::testing {

// An io_context on its own thread for background loops; joined on destruction.
class IoThread {
 public:
  IoThread() : guard_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::io_context& io() { return io_; }
  // Runs `aw` here and waits for it.
  void Run(boost::asio::awaitable<void> aw) { boost::asio::co_spawn(io_, std::move(aw), boost::asio::use_future).get(); }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Drives `aw` to completion on `io`, on this thread, and returns its value
// (rethrowing its exception). `io` is restarted first, so one io_context can
// serve a whole test; it must outlive any thread that still posts to it.
template <class T>
T AwaitOn(boost::asio::io_context& io, boost::asio::awaitable<T> aw) {
  std::optional<T> out;
  std::exception_ptr error;
  io.restart();
  boost::asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out.emplace(std::move(value));
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

// Waits (really) for a condition that other threads make true, bounded.
inline bool EventuallyTrue(const std::function<bool()>& condition,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace shopd::testing

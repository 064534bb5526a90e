// exec: an io_context on a thread of its own, for the sockets of a client
// (PostgreSQL, Redis) whose callers run on other threads and resume on their
// own executors. Stopped and joined on destruction: destroy what uses it first.
//
//   exec::IoThread io("shopd-pg");
//   PgPool pool(io.executor(), {...});
#pragma once

#include <pthread.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <string>
#include <thread>

namespace shopd::exec {

class IoThread {
 public:
  // `name`: the thread's name in top and /proc (at most 15 bytes are kept).
  explicit IoThread(std::string name)
      : thread_([this, name = std::move(name)] {
          pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
          io_.run();
        }) {}
  ~IoThread() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  boost::asio::any_io_executor executor() { return io_.get_executor(); }

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ = boost::asio::make_work_guard(io_);
  std::thread thread_;
};

}  // namespace shopd::exec

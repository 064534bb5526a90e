// exec: runs a coroutine to completion on the calling thread, on an
// io_context of its own. For start-up and command-line code only, never on
// an event-loop thread (it blocks until the coroutine is done).
//
//   auto end = exec::AwaitBlocking(event_log.EndOffset("product.changed"));
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <utility>

namespace shopd::exec {

template <class T>
T AwaitBlocking(boost::asio::awaitable<T> task) {
  boost::asio::io_context io(1);
  auto done = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return done.get();
}

}  // namespace shopd::exec

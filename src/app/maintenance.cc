#include "app/maintenance.h"

#include <pthread.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <list>
#include <thread>
#include <vector>

#include "core/error.h"
#include "obs/log.h"

namespace shopd::app {

namespace asio = boost::asio;

struct Maintenance::Impl {
  asio::io_context io{1};
  std::vector<MaintenanceJob> jobs;
  std::list<asio::steady_timer> timers;  // one per job; a list keeps their addresses
  std::thread thread;
  bool started = false;  // caller's thread
  bool joined = false;   // caller's thread
  bool stopped = false;  // loop thread

  asio::awaitable<void> Loop(const MaintenanceJob& job, asio::steady_timer& timer) {
    for (;;) {
      timer.expires_after(job.interval);
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec || stopped) co_return;
      try {
        co_await job.run();
      } catch (...) {
        obs::LogError("maintenance job failed", {{"job", job.name}, {"error", core::ExceptionText(std::current_exception())}});
      }
    }
  }
};

Maintenance::Maintenance() : impl_(std::make_unique<Impl>()) {}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Add(MaintenanceJob job) { impl_->jobs.push_back(std::move(job)); }

void Maintenance::Start() {
  Impl& m = *impl_;
  if (m.started) return;
  m.started = true;
  for (const MaintenanceJob& job : m.jobs) {
    asio::steady_timer& timer = m.timers.emplace_back(m.io);
    asio::co_spawn(m.io, m.Loop(job, timer), asio::detached);
  }
  // With no job, run() returns at once and the thread ends.
  m.thread = std::thread([&m] {
    pthread_setname_np(pthread_self(), "shopd-maint");
    m.io.run();
  });
}

void Maintenance::Stop() {
  Impl& m = *impl_;
  if (!m.started || m.joined) return;
  m.joined = true;
  // On the loop's own thread, so no timer is touched from two threads.
  asio::post(m.io, [&m] {
    m.stopped = true;
    for (auto& t : m.timers) t.cancel();
  });
  m.thread.join();
}

}  // namespace shopd::app

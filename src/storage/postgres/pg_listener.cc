#include "storage/postgres/pg_listener.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <utility>

#include "obs/log.h"
#include "storage/postgres/pg_connection.h"

namespace shopd::storage::postgres {

namespace asio = boost::asio;

struct PgListener::State {
  State(asio::any_io_executor ex, std::string c, std::vector<std::string> ch, std::function<void()> cb,
        PgListenerOptions o)
      : executor(ex), conninfo(std::move(c)), channels(std::move(ch)), on_notify(std::move(cb)), options(o),
        backoff_timer(ex), done(ex) {
    done.expires_at(asio::steady_timer::time_point::max());
  }
  asio::any_io_executor executor;
  const std::string conninfo;
  const std::vector<std::string> channels;
  const std::function<void()> on_notify;
  const PgListenerOptions options;
  std::unique_ptr<PgConnection> conn;
  asio::steady_timer backoff_timer;
  asio::steady_timer done;  // cancelled when the loop returns
  bool stopping = false;
  bool started = false;
  bool finished = false;
  std::atomic<bool> listening{false};
};

PgListener::PgListener(asio::any_io_executor executor, std::string conninfo, std::vector<std::string> channels,
                       std::function<void()> on_notify, PgListenerOptions options)
    : state_(std::make_shared<State>(executor, std::move(conninfo), std::move(channels), std::move(on_notify),
                                     options)) {}

PgListener::~PgListener() = default;

void PgListener::Start() {
  state_->started = true;
  asio::co_spawn(state_->executor, Loop(state_), asio::detached);
}

bool PgListener::listening() const { return state_->listening.load(); }

asio::awaitable<void> PgListener::Stop() {
  std::shared_ptr<State> s = state_;
  if (!s->started || s->finished) co_return;
  co_await asio::post(s->executor, asio::use_awaitable);
  s->stopping = true;
  s->backoff_timer.cancel();
  if (s->conn) s->conn->CancelWait();
  if (!s->finished) (void)co_await s->done.async_wait(asio::as_tuple(asio::use_awaitable));
}

namespace {
// Connects and LISTENs on every channel; the connection, or why not.
asio::awaitable<core::Result<std::unique_ptr<PgConnection>>> Listen(asio::any_io_executor ex, std::string conninfo,
                                                                    std::vector<std::string> channels,
                                                                    std::chrono::milliseconds timeout) {
  auto conn = co_await PgConnection::Connect(ex, std::move(conninfo), timeout);
  if (!conn) co_return conn.error();
  for (const std::string& channel : channels) {
    // Channel names are this program's constants, never input: quoted as identifiers.
    if (auto r = co_await (*conn)->Query("LISTEN \"" + channel + "\"", {}, timeout); !r) co_return r.error();
  }
  co_return std::move(*conn);
}

asio::awaitable<core::Result<std::vector<std::string>>> Ping(PgConnection& conn, std::chrono::milliseconds timeout) {
  auto ping = co_await conn.Query("SELECT 1", {}, timeout);
  if (!ping) co_return ping.error();
  co_return std::vector<std::string>{};
}
}  // namespace

asio::awaitable<void> PgListener::Loop(std::shared_ptr<State> s) {
  std::chrono::milliseconds backoff = s->options.min_backoff;
  bool warned = false;
  while (!s->stopping) {
    if (!s->conn) {
      auto conn = co_await Listen(s->executor, s->conninfo, s->channels, s->options.connect_timeout);
      if (!conn) {
        if (!warned)
          obs::LogWarn("database notifications unavailable; retrying",
                       {{"error", conn.error().message}, {"detail", conn.error().internal}});
        warned = true;
        s->backoff_timer.expires_after(backoff);
        (void)co_await s->backoff_timer.async_wait(asio::as_tuple(asio::use_awaitable));
        backoff = std::min(backoff * 2, s->options.max_backoff);
        continue;
      }
      s->conn = std::move(*conn);
      s->listening = true;
      if (warned) obs::LogInfo("database notifications restored", {});
      warned = false;
      backoff = s->options.min_backoff;
      // Whatever was notified while this replica was not listening.
      s->on_notify();
      continue;
    }
    auto got = co_await s->conn->WaitForNotifications(s->options.ping_interval);
    if (s->stopping) break;
    if (got && got->empty()) {
      // Quiet for a whole interval: make sure the connection is still there.
      got = co_await Ping(*s->conn, s->options.connect_timeout);
    }
    if (!got) {
      obs::LogWarn("database notification connection lost", {{"error", got.error().internal}});
      s->listening = false;
      s->conn.reset();
      continue;
    }
    if (!got->empty()) s->on_notify();
  }
  s->listening = false;
  s->conn.reset();
  s->finished = true;
  s->done.cancel();
}

}  // namespace shopd::storage::postgres

#include "redis/redis_client.h"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <random>
#include <utility>

#include "obs/log.h"
#include "redis/resp.h"

namespace shopd::redis {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::any_io_executor>;
using ReplyHandler = asio::any_completion_handler<void(core::Result<RedisReply>)>;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunkBytes = 16 * 1024;

core::Error Unavailable(std::string detail) {
  core::Error e = core::Error::Make(core::Errc::kUnavailable, "temporarily unavailable, retry shortly",
                                    "redis " + std::move(detail));
  e.retry_after_s = 1;
  return e;
}

int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

std::string ReadErrorText(const boost::system::error_code& ec) {
  return ec == asio::error::eof ? "the server closed the connection" : ec.message();
}

// A command on its way: queued for a connection, then sent and awaiting its reply.
struct Pending {
  Clock::time_point deadline;
  std::string wire;                // until handed to a connection
  ReplyHandler handler;            // empty: nobody waits (Send)
  asio::any_io_executor executor;  // the caller's, where `handler` runs
};

// Resumes the caller on its own executor, never inline on the strand.
void Complete(Pending& p, core::Result<RedisReply> result) {
  if (!p.handler) return;
  asio::post(p.executor, [handler = std::move(p.handler), result = std::move(result)]() mutable {
    std::move(handler)(std::move(result));
  });
}

// One TCP connection. Every attempt makes a new one and a failed one is only
// ever dropped, so a late completion from an old socket cannot touch the new.
struct Connection {
  explicit Connection(const Strand& strand) : socket(strand), writer_wake(strand) {}
  tcp::socket socket;
  asio::steady_timer writer_wake;
  std::string out;           // not yet written
  std::deque<Pending> sent;  // in `out` or written; replies arrive in this order
  ReplyReader reader;
  bool writer_idle = false;
  bool attempt_over = false;  // the connect deadline no longer applies
  bool timed_out = false;     // the connect deadline passed
  bool failed = false;
};

}  // namespace

// Everything but the atomics is touched on `strand` only. The background
// coroutines hold a shared_ptr, so the state outlives the RedisClient object.
struct RedisClient::Impl : std::enable_shared_from_this<Impl> {
  enum class State { kConnecting, kReady, kDown, kClosed };

  Impl(const asio::any_io_executor& executor, RedisClientOptions o, RedisEndpoint e)
      : options(std::move(o)),
        endpoint(std::move(e)),
        name(endpoint.Describe()),
        strand(asio::make_strand(executor)),
        resolver(strand),
        deadline_timer(strand),
        backoff_timer(strand),
        connect_timer(strand),
        delay(options.reconnect_min_delay) {}

  static asio::awaitable<void> Run(std::shared_ptr<Impl> self);
  static asio::awaitable<void> WatchDeadlines(std::shared_ptr<Impl> self);
  static asio::awaitable<core::Result<void>> Establish(std::shared_ptr<Impl> self, std::shared_ptr<Connection> conn);
  static asio::awaitable<void> ReadLoop(std::shared_ptr<Impl> self, std::shared_ptr<Connection> conn);
  static asio::awaitable<void> WriteLoop(std::shared_ptr<Impl> self, std::shared_ptr<Connection> conn);

  void Submit(Pending p);
  void Hand(Connection& c, Pending p);
  // `c` by value: it may be the `conn` member that this resets.
  void Fail(std::shared_ptr<Connection> c, const std::string& reason);
  void ExpireDeadlines();
  void Close();
  Clock::duration NextDelay();
  std::string DownText() const;

  const RedisClientOptions options;
  const RedisEndpoint endpoint;
  const std::string name;  // for error texts and logs; no credentials
  Strand strand;
  tcp::resolver resolver;
  asio::steady_timer deadline_timer;
  asio::steady_timer backoff_timer;
  asio::steady_timer connect_timer;

  State state = State::kConnecting;
  std::shared_ptr<Connection> conn;     // the established connection, when kReady
  std::shared_ptr<Connection> attempt;  // the connection being made, when kConnecting
  std::deque<Pending> queued;        // waiting for the connection being made
  std::string last_error;
  Clock::time_point retry_at;
  Clock::duration delay;
  bool lost_logged = false;  // logs only the transitions between up and down
  std::minstd_rand rng{std::random_device{}()};

  std::atomic<bool> up{false};
  std::atomic<uint64_t> connect_count{0};
};

Clock::duration RedisClient::Impl::NextDelay() {
  const int64_t ms = std::max<int64_t>(1, Ms(delay));
  // Half fixed, half random: never a zero wait, and replicas spread out.
  const int64_t jittered = ms / 2 + std::uniform_int_distribution<int64_t>(0, ms - ms / 2)(rng);
  delay = std::min<Clock::duration>(delay * 2, options.reconnect_max_delay);
  return std::chrono::milliseconds(jittered);
}

std::string RedisClient::Impl::DownText() const {
  const int64_t wait_ms = std::max<int64_t>(0, Ms(retry_at - Clock::now()));
  return name + " is unavailable (" + last_error + "); reconnecting in " + std::to_string(wait_ms) + " ms";
}

void RedisClient::Impl::Submit(Pending p) {
  switch (state) {
    case State::kClosed:
      Complete(p, Unavailable(name + ": the client is closed"));
      return;
    case State::kDown:
      Complete(p, Unavailable(DownText()));
      return;
    case State::kConnecting:
    case State::kReady:
      break;
  }
  const size_t in_flight = queued.size() + (conn ? conn->sent.size() : 0);
  if (in_flight >= options.max_in_flight) {
    Complete(p, Unavailable(name + ": too many commands in flight (" + std::to_string(in_flight) + ")"));
    return;
  }
  // The deadline watch sleeps until the oldest deadline, or for good when there is none.
  if (in_flight == 0) deadline_timer.cancel();
  if (state == State::kConnecting) {
    queued.push_back(std::move(p));
  } else {
    Hand(*conn, std::move(p));
  }
}

void RedisClient::Impl::Hand(Connection& c, Pending p) {
  if (c.out.empty()) {
    c.out = std::move(p.wire);
  } else {
    c.out += p.wire;
  }
  p.wire.clear();
  c.sent.push_back(std::move(p));
  if (c.writer_idle) {
    c.writer_idle = false;
    c.writer_wake.cancel();
  }
}

void RedisClient::Impl::Fail(std::shared_ptr<Connection> c, const std::string& reason) {
  if (c->failed) return;
  c->failed = true;
  boost::system::error_code ignored;
  c->socket.close(ignored);
  c->writer_wake.cancel();
  const bool current = conn == c || state == State::kConnecting;
  if (current && state != State::kClosed) {
    conn.reset();
    up = false;
    state = State::kDown;
    last_error = reason;
    retry_at = Clock::now() + NextDelay();
    if (!lost_logged) {
      lost_logged = true;
      obs::LogWarn("redis_unavailable", {{"redis", name}, {"error", reason}});
    }
  }
  const core::Error error = Unavailable(name + ": " + reason);
  for (Pending& p : c->sent) Complete(p, error);
  c->sent.clear();
  c->out.clear();
  if (current) {
    for (Pending& p : queued) Complete(p, error);
    queued.clear();
  }
}

void RedisClient::Impl::ExpireDeadlines() {
  const Clock::time_point now = Clock::now();
  if (conn && !conn->sent.empty() && conn->sent.front().deadline <= now) {
    // Replies come in order, so the connection cannot skip the late one: it
    // is stalled or lost, and its other commands' outcomes are unknown too.
    Fail(conn, "no reply within " + std::to_string(options.command_timeout.count()) +
                   " ms; the connection is dropped");
    return;
  }
  while (!queued.empty() && queued.front().deadline <= now) {
    Complete(queued.front(),
             Unavailable(name + ": not connected within " + std::to_string(options.command_timeout.count()) + " ms"));
    queued.pop_front();
  }
}

void RedisClient::Impl::Close() {
  if (state == State::kClosed) return;
  const std::shared_ptr<Connection> c = conn;
  state = State::kClosed;
  up = false;
  if (c) Fail(c, "the client is closed");
  if (attempt) {
    boost::system::error_code ignored;
    attempt->socket.close(ignored);
  }
  for (Pending& p : queued) Complete(p, Unavailable(name + ": the client is closed"));
  queued.clear();
  resolver.cancel();
  deadline_timer.cancel();
  backoff_timer.cancel();
  connect_timer.cancel();
}

asio::awaitable<void> RedisClient::Impl::WatchDeadlines(std::shared_ptr<Impl> self) {
  while (self->state != State::kClosed) {
    Clock::time_point next = Clock::time_point::max();
    if (!self->queued.empty()) next = self->queued.front().deadline;
    if (self->conn && !self->conn->sent.empty()) next = std::min(next, self->conn->sent.front().deadline);
    self->deadline_timer.expires_at(next);
    co_await self->deadline_timer.async_wait(kTuple);
    if (self->state == State::kClosed) co_return;
    self->ExpireDeadlines();
  }
}

asio::awaitable<void> RedisClient::Impl::Run(std::shared_ptr<Impl> self) {
  while (self->state != State::kClosed) {
    self->state = State::kConnecting;
    auto c = std::make_shared<Connection>(self->strand);
    self->attempt = c;
    self->connect_timer.expires_after(self->options.connect_timeout);
    // A plain callback, not a coroutine: closing the socket ends whichever
    // step of Establish is waiting.
    self->connect_timer.async_wait([self, c](const boost::system::error_code& ec) {
      if (ec || c->attempt_over) return;
      c->timed_out = true;
      boost::system::error_code ignored;
      c->socket.close(ignored);
      self->resolver.cancel();
    });
    core::Result<void> established = co_await Establish(self, c);
    c->attempt_over = true;
    self->attempt.reset();
    self->connect_timer.cancel();
    if (self->state == State::kClosed) co_return;

    if (established) {
      self->state = State::kReady;
      self->conn = c;
      self->up = true;
      ++self->connect_count;
      self->delay = self->options.reconnect_min_delay;
      if (self->lost_logged || self->connect_count == 1)
        obs::LogInfo("redis_connected", {{"redis", self->name}, {"connects", self->connect_count.load()}});
      self->lost_logged = false;
      std::deque<Pending> waiting;
      waiting.swap(self->queued);
      for (Pending& p : waiting) self->Hand(*c, std::move(p));
      asio::co_spawn(self->strand, WriteLoop(self, c), asio::detached);
      co_await ReadLoop(self, c);
    } else {
      self->Fail(c, established.error().internal);
    }
    if (self->state == State::kClosed) co_return;
    self->backoff_timer.expires_at(self->retry_at);
    co_await self->backoff_timer.async_wait(kTuple);
  }
}

asio::awaitable<core::Result<void>> RedisClient::Impl::Establish(std::shared_ptr<Impl> self,
                                                                 std::shared_ptr<Connection> c) {
  const std::string timed_out = "connect timed out after " + std::to_string(self->options.connect_timeout.count()) + " ms";
  const RedisEndpoint& e = self->endpoint;
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(e.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, e.port);
  } else {
    auto [rec, results] = co_await self->resolver.async_resolve(e.host, std::to_string(e.port), kTuple);
    if (c->timed_out) co_return core::Error::Make(core::Errc::kUnavailable, "", timed_out);
    if (rec) co_return core::Error::Make(core::Errc::kUnavailable, "", "resolving " + e.host + ": " + rec.message());
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  auto [cec, connected_to] = co_await asio::async_connect(c->socket, endpoints, kTuple);
  if (c->timed_out) co_return core::Error::Make(core::Errc::kUnavailable, "", timed_out);
  if (cec) co_return core::Error::Make(core::Errc::kUnavailable, "", "connect: " + cec.message());
  c->socket.set_option(tcp::no_delay(true), ec);

  // Commands are handed over only after these replies: a command sent before
  // a failed SELECT would run against the wrong database.
  std::vector<std::string> steps;
  std::string wire;
  if (!e.password.empty()) {
    if (e.username.empty()) {
      AppendCommand(wire, {"AUTH", e.password});
    } else {
      AppendCommand(wire, {"AUTH", e.username, e.password});
    }
    steps.push_back("AUTH");
  }
  if (e.db != 0) {
    AppendCommand(wire, {"SELECT", std::to_string(e.db)});
    steps.push_back("SELECT " + std::to_string(e.db));
  }
  AppendCommand(wire, {"PING"});
  steps.push_back("PING");
  auto [wec, written] = co_await asio::async_write(c->socket, asio::buffer(wire), kTuple);
  if (c->timed_out) co_return core::Error::Make(core::Errc::kUnavailable, "", timed_out);
  if (wec) co_return core::Error::Make(core::Errc::kUnavailable, "", "write: " + wec.message());

  std::vector<char> buf(kReadChunkBytes);
  std::vector<RedisReply> replies;
  while (replies.size() < steps.size()) {
    auto next = c->reader.Next();
    if (!next) co_return core::Error::Make(core::Errc::kUnavailable, "", next.error().internal);
    if (*next) {
      replies.push_back(std::move(**next));
      continue;
    }
    auto [rec, n] = co_await c->socket.async_read_some(asio::buffer(buf), kTuple);
    if (c->timed_out) co_return core::Error::Make(core::Errc::kUnavailable, "", timed_out);
    if (rec) co_return core::Error::Make(core::Errc::kUnavailable, "", "handshake: " + ReadErrorText(rec));
    c->reader.Feed(buf.data(), n);
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    if (replies[i].IsError())
      co_return core::Error::Make(core::Errc::kUnavailable, "", steps[i] + " failed: " + replies[i].Describe());
  }
  if (!replies.back().IsString() || replies.back().str != "PONG")
    co_return core::Error::Make(core::Errc::kUnavailable, "", "not a Redis server (PING answered " +
                                                                  replies.back().Describe() + ")");
  co_return core::Result<void>{};
}

asio::awaitable<void> RedisClient::Impl::ReadLoop(std::shared_ptr<Impl> self, std::shared_ptr<Connection> c) {
  std::vector<char> buf(kReadChunkBytes);
  while (!c->failed) {
    auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(buf), kTuple);
    if (c->failed) co_return;
    if (ec) {
      self->Fail(c, "read: " + ReadErrorText(ec));
      co_return;
    }
    c->reader.Feed(buf.data(), n);
    for (;;) {
      auto next = c->reader.Next();
      if (!next) {
        self->Fail(c, next.error().internal);
        co_return;
      }
      if (!*next) break;
      if (c->sent.empty()) {
        self->Fail(c, "a reply arrived for no command: " + (*next)->Describe());
        co_return;
      }
      Pending p = std::move(c->sent.front());
      c->sent.pop_front();
      Complete(p, std::move(**next));
    }
  }
}

asio::awaitable<void> RedisClient::Impl::WriteLoop(std::shared_ptr<Impl> self, std::shared_ptr<Connection> c) {
  std::string buf;
  while (!c->failed) {
    if (c->out.empty()) {
      c->writer_idle = true;
      c->writer_wake.expires_at(Clock::time_point::max());
      co_await c->writer_wake.async_wait(kTuple);
      continue;
    }
    // Everything issued while the previous write was in flight goes out in one write.
    buf.clear();
    buf.swap(c->out);
    auto [ec, n] = co_await asio::async_write(c->socket, asio::buffer(buf), kTuple);
    if (ec) {
      self->Fail(c, "write: " + ec.message());
      co_return;
    }
  }
}

// RedisClient

RedisClient::RedisClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

RedisClient::~RedisClient() {
  asio::post(impl_->strand, [impl = impl_] { impl->Close(); });
}

core::Result<std::unique_ptr<RedisClient>> RedisClient::Create(asio::any_io_executor executor,
                                                                RedisClientOptions options) {
  core::Result<RedisEndpoint> endpoint = ParseRedisUrl(options.url);
  if (!endpoint) return endpoint.error();
  if (options.connect_timeout.count() <= 0 || options.command_timeout.count() <= 0)
    return core::Error::Invalid("redis: connect_timeout and command_timeout must be positive");
  if (options.max_in_flight == 0) return core::Error::Invalid("redis: max_in_flight must be positive");
  if (options.reconnect_min_delay.count() <= 0 || options.reconnect_max_delay < options.reconnect_min_delay)
    return core::Error::Invalid("redis: need 0 < reconnect_min_delay <= reconnect_max_delay");
  auto impl = std::make_shared<Impl>(executor, std::move(options), std::move(*endpoint));
  asio::co_spawn(impl->strand, Impl::Run(impl), [](std::exception_ptr e) {
    if (e) obs::LogError("redis_client_crashed", {{"error", core::ExceptionText(e)}});
  });
  asio::co_spawn(impl->strand, Impl::WatchDeadlines(impl), [](std::exception_ptr e) {
    if (e) obs::LogError("redis_client_crashed", {{"error", core::ExceptionText(e)}});
  });
  return std::unique_ptr<RedisClient>(new RedisClient(std::move(impl)));
}

asio::awaitable<core::Result<RedisReply>> RedisClient::Command(std::vector<std::string> args) {
  std::string wire;
  AppendCommand(wire, args);
  const Clock::time_point deadline = Clock::now() + impl_->options.command_timeout;
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(core::Result<RedisReply>)>(
      [this, &wire, deadline](auto handler) {
        // Tracked, so the caller's context keeps running until the reply is in.
        asio::any_io_executor caller = asio::prefer(asio::get_associated_executor(handler),
                                                    asio::execution::outstanding_work.tracked);
        Pending p{deadline, std::move(wire), ReplyHandler(std::move(handler)), std::move(caller)};
        asio::post(impl_->strand, [impl = impl_, p = std::move(p)]() mutable { impl->Submit(std::move(p)); });
      },
      asio::use_awaitable);
}

void RedisClient::Send(std::vector<std::string> args) {
  Pending p;
  p.deadline = Clock::now() + impl_->options.command_timeout;
  AppendCommand(p.wire, args);
  asio::post(impl_->strand, [impl = impl_, p = std::move(p)]() mutable { impl->Submit(std::move(p)); });
}

const RedisEndpoint& RedisClient::endpoint() const { return impl_->endpoint; }
const RedisClientOptions& RedisClient::options() const { return impl_->options; }
bool RedisClient::connected() const { return impl_->up; }
uint64_t RedisClient::connects() const { return impl_->connect_count; }

}  // namespace shopd::redis

#include "http/server.h"

#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "http/client_address.h"
#include "http/detail/body_budget.h"
#include "http/detail/raw_request.h"
#include "http/detail/request_reader.h"
#include "http/detail/response_writer.h"
#include "http/dispatcher.h"
#include "http/router.h"
#include "obs/log.h"
#include "obs/metrics.h"

namespace shopd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Timeouts are enforced by a per-reactor sweep over connection deadlines
// rather than one asio timer per connection: re-arming a timer on every read
// would cost a heap operation per request, a deadline is one store.
int64_t CoarseNowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct Reactor;

// What every connection updates, shared by the reactors of one server.
struct ConnectionStats {
  std::atomic<int64_t> open{0};
  obs::Gauge* active_gauge = nullptr;

  // Open connections per client key. Bounded: an entry exists only while one
  // of the (at most max-connections) connections from that key is open.
  std::mutex per_address_mu;
  std::unordered_map<std::string, int64_t> per_address;

  bool TryOpenFrom(const std::string& key, int64_t cap) {
    std::lock_guard lock(per_address_mu);
    auto [it, inserted] = per_address.try_emplace(key, 0);
    if (it->second >= cap) return false;
    ++it->second;
    return true;
  }
  void CloseFrom(const std::string& key) {
    std::lock_guard lock(per_address_mu);
    auto it = per_address.find(key);
    if (it != per_address.end() && --it->second <= 0) per_address.erase(it);
  }
};

// Who is at the other end of a connection, worked out once at accept.
struct Peer {
  std::string ip;
  std::string key;      // RateLimitKey(ip)
  bool trusted = false; // a trusted proxy: its requests name the client
  bool counted = false; // holds a slot of the per-address cap
};

struct Session {
  enum class Phase { kHeader, kBody, kHandling, kWriting, kIdle, kClosing };

  Session(Reactor& r, tcp::socket s, Peer p);
  ~Session();

  void SetPhase(Phase p, int64_t timeout_ms) {
    phase = p;
    deadline_ms = timeout_ms > 0 ? CoarseNowMs() + timeout_ms : 0;
  }
  void Close() {
    beast::error_code ec;
    socket.close(ec);
  }

  Reactor& reactor;
  tcp::socket socket;
  Session* prev = nullptr;
  Session* next = nullptr;
  Phase phase = Phase::kHeader;
  int64_t deadline_ms = 0;
  Peer peer;
  // Behind a trusted proxy: this request's forwarded header and client key,
  // which the Request views while it is handled.
  std::string forwarded;
  std::string client_key;
};

}  // namespace

struct Server::Impl {
  Impl(ServerConfig c, const Router& router, std::vector<std::unique_ptr<Middleware>> mws,
       const Authenticator* auth, obs::MetricsRegistry* metrics)
      : config(std::move(c)),
        router(router),
        dispatcher(router, std::move(mws), auth),
        body_budget(config.max_buffered_body_bytes) {
    if (metrics) {
      stats.active_gauge = &metrics->GetGauge("shopd_http_connections_active", "Open client connections.");
      connections_rejected = &metrics->GetCounter("shopd_http_connections_rejected_total",
                                                  "Connections refused because max-connections was reached.");
      address_connections_rejected =
          &metrics->GetCounter("shopd_http_address_connections_rejected_total",
                               "Connections refused because their address had max-connections-per-address open.");
      timeouts = &metrics->GetCounter("shopd_http_timeouts_total",
                                      "Connections closed by a header, body, idle or write timeout.");
    }
  }

  struct ReactorState;

  void BeginDrain(Reactor& r);
  asio::awaitable<void> AcceptLoop(Reactor& r);
  asio::awaitable<void> SweepLoop(Reactor& r);
  asio::awaitable<void> SessionLoop(Reactor& r, tcp::socket socket, Peer peer);
  void BindClient(Session& s, Request& req);
  void StartSession(Reactor& r, tcp::socket socket);

  int64_t SweepIntervalMs() const {
    int64_t shortest = std::min({config.header_timeout_ms, config.body_timeout_ms, config.idle_timeout_ms,
                                 config.write_timeout_ms});
    return std::clamp<int64_t>(shortest / 4, 5, 100);
  }

  ServerConfig config;
  const Router& router;
  Dispatcher dispatcher;
  detail::BodyBudget body_budget;
  std::vector<std::unique_ptr<Reactor>> reactors;
  uint16_t bound_port = 0;
  ConnectionStats stats;
  std::atomic<bool> stopping{false};
  std::function<void()> periodic_hook;
  obs::Counter* connections_rejected = nullptr;
  obs::Counter* address_connections_rejected = nullptr;
  obs::Counter* timeouts = nullptr;
};

namespace {

struct Reactor {
  explicit Reactor(ConnectionStats& s) : stats(s), io(1), sweeper(io) {}

  void Link(Session* s) {
    s->next = head;
    if (head) head->prev = s;
    head = s;
    if (++sessions == 1) {
      // The sweeper sleeps while there is no connection: wake it for this one.
      RefreshDate();
      sweeper.cancel();
    }
  }
  void Unlink(Session* s) {
    if (s->prev) s->prev->next = s->next;
    else head = s->next;
    if (s->next) s->next->prev = s->prev;
    --sessions;
  }
  void RefreshDate() {
    time_t now = time(nullptr);
    if (now == date_s) return;
    date_s = now;
    tm t;
    gmtime_r(&now, &t);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &t);
    date_line.assign(buf, n);
  }

  ConnectionStats& stats;
  asio::io_context io;
  std::optional<tcp::acceptor> acceptor;
  asio::steady_timer sweeper;
  std::optional<asio::signal_set> signals;
  Session* head = nullptr;
  size_t sessions = 0;
  bool draining = false;
  int64_t drain_deadline_ms = 0;
  std::string date_line;
  time_t date_s = 0;
};

Session::Session(Reactor& r, tcp::socket s, Peer p) : reactor(r), socket(std::move(s)), peer(std::move(p)) {
  reactor.Link(this);
  ++reactor.stats.open;
  if (reactor.stats.active_gauge) reactor.stats.active_gauge->Add(1);
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // see PERFORMANCE-NOTES: Nagle stalls pipelined writes
}

Session::~Session() {
  reactor.Unlink(this);
  if (peer.counted) reactor.stats.CloseFrom(peer.key);
  --reactor.stats.open;
  if (reactor.stats.active_gauge) reactor.stats.active_gauge->Add(-1);
}

}  // namespace

void Server::Impl::StartSession(Reactor& r, tcp::socket socket) {
  beast::error_code ec;
  if (stats.open.load(std::memory_order_relaxed) >= config.max_connections) {
    if (connections_rejected) connections_rejected->Inc();
    socket.close(ec);
    return;
  }
  Peer peer;
  auto ep = socket.remote_endpoint(ec);
  if (!ec) peer.ip = ep.address().to_string();
  peer.key = RateLimitKey(peer.ip);
  peer.trusted = config.trusted_proxies.Contains(peer.ip);
  if (!peer.trusted) {
    if (!stats.TryOpenFrom(peer.key, config.max_connections_per_address)) {
      if (address_connections_rejected) address_connections_rejected->Inc();
      socket.close(ec);
      return;
    }
    peer.counted = true;
  }
  asio::co_spawn(r.io, SessionLoop(r, std::move(socket), std::move(peer)), asio::detached);
}

void Server::Impl::BindClient(Session& s, Request& req) {
  if (!s.peer.trusted) {
    req.SetClient(s.peer.ip, s.peer.key);
    return;
  }
  s.forwarded = req.JoinedHeader(config.forwarded_header == ForwardedHeader::kForwarded ? "Forwarded"
                                                                                        : "X-Forwarded-For");
  std::string_view client = ResolveClientAddress(s.peer.ip, s.forwarded, config.forwarded_header,
                                                 config.trusted_proxies);
  s.client_key = RateLimitKey(client);
  req.SetClient(client, s.client_key);
}

asio::awaitable<void> Server::Impl::AcceptLoop(Reactor& r) {
  asio::steady_timer backoff(r.io);
  while (r.acceptor && r.acceptor->is_open()) {
    auto [ec, socket] = co_await r.acceptor->async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || r.draining) break;
      // Out of descriptors (EMFILE/ENFILE) and the like: back off instead of spinning.
      obs::LogWarn("accept failed", {{"error", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kTuple);
      continue;
    }
    StartSession(r, std::move(socket));
  }
}

void Server::Impl::BeginDrain(Reactor& r) {
  if (r.draining) return;
  r.draining = true;
  r.drain_deadline_ms = CoarseNowMs() + config.drain_timeout_ms;
  if (r.signals) {
    beast::error_code ec;
    r.signals->cancel(ec);
  }
  if (r.acceptor && r.acceptor->is_open()) {
    // Connections the kernel already completed would be reset by close():
    // take them in and serve them (each answered with Connection: close).
    beast::error_code ec;
    r.acceptor->non_blocking(true, ec);
    for (;;) {
      tcp::socket s(r.io);
      r.acceptor->accept(s, ec);
      if (ec) break;
      StartSession(r, std::move(s));
    }
    r.acceptor->close(ec);
  }
  // Idle keep-alive connections get a short grace to send the request they may
  // already have in flight; it is answered with Connection: close.
  constexpr int64_t kIdleGraceMs = 100;
  for (Session* s = r.head; s; s = s->next)
    if (s->phase == Session::Phase::kIdle) s->SetPhase(Session::Phase::kIdle, kIdleGraceMs);
  r.sweeper.cancel();  // re-evaluate at once
}

asio::awaitable<void> Server::Impl::SweepLoop(Reactor& r) {
  const auto interval = std::chrono::milliseconds(SweepIntervalMs());
  for (;;) {
    // With no connection there is no deadline to enforce and no date to keep:
    // sleep until the first connection (Link) or a drain cancels the wait.
    if (r.sessions == 0 && !r.draining) r.sweeper.expires_at(asio::steady_timer::time_point::max());
    else r.sweeper.expires_after(interval);
    co_await r.sweeper.async_wait(kTuple);
    const int64_t now = CoarseNowMs();
    r.RefreshDate();
    const bool force = r.draining && now >= r.drain_deadline_ms;
    for (Session* s = r.head; s;) {
      Session* next = s->next;
      if (force || (s->deadline_ms != 0 && now >= s->deadline_ms)) {
        if (!force && timeouts && s->phase != Session::Phase::kClosing) timeouts->Inc();
        s->deadline_ms = 0;
        s->Close();
      }
      s = next;
    }
    if (periodic_hook) periodic_hook();
    if (r.draining && r.sessions == 0) break;
  }
  if (periodic_hook) periodic_hook();
}

asio::awaitable<void> Server::Impl::SessionLoop(Reactor& r, tcp::socket socket, Peer peer) {
  Session s(r, std::move(socket), std::move(peer));
  const ServerConfig& cfg = config;
  // The buffer never has to hold a body (the parser moves body bytes out as
  // they arrive), only a header block plus one read.
  constexpr size_t kReadSize = 16 * 1024;
  beast::flat_buffer buffer(static_cast<size_t>(cfg.max_header_bytes) + kReadSize);
  detail::RequestReader reader({.max_header_bytes = cfg.max_header_bytes, .max_body_bytes = cfg.max_body_bytes},
                               &router, &body_budget);
  std::string out;
  s.SetPhase(Session::Phase::kHeader, cfg.header_timeout_ms);

  for (;;) {
    bool close_after = false;
    // Answer every complete request already buffered (pipelining), then write once.
    while (buffer.size() > 0 && !close_after) {
      const auto event = reader.Read(buffer);
      if (event == detail::RequestReader::Event::kNeedMore) break;
      if (event == detail::RequestReader::Event::kHeader) {
        s.SetPhase(Session::Phase::kBody, cfg.body_timeout_ms);
        if (reader.expects_continue()) out += "HTTP/1.1 100 Continue\r\n\r\n";
        continue;
      }
      if (event == detail::RequestReader::Event::kError) {
        const auto& failure = reader.failure();
        Request req;
        req.SetStartNs(NowNs());
        req.Bind(nullptr, Method::kOther, "", "", "", s.peer.ip);
        req.SetClient(s.peer.ip, s.peer.key);
        Response res = dispatcher.ForProtocolError(req, failure.status, failure.slug, failure.detail);
        if (failure.retry_later) res.headers.emplace_back("Retry-After", "1");
        detail::AppendResponse(out, res, false, true, r.date_line);
        close_after = true;
        break;
      }

      // A complete request.
      s.SetPhase(Session::Phase::kHandling, 0);
      auto& msg = reader.message();
      Request::Raw raw{&msg};
      Request req;
      req.SetStartNs(NowNs());
      const Method method = reader.method();
      req.Bind(&raw, method, msg.method_string(), msg.target(), msg.body(), s.peer.ip);
      BindClient(s, req);
      Dispatcher::Pending pending;
      dispatcher.Begin(req, pending);
      if (pending.async_route) {
        try {
          pending.response = co_await pending.async_route->async(req);
        } catch (...) {
          pending.response = dispatcher.InternalError(req, std::current_exception());
        }
      }
      dispatcher.Finish(req, pending);
      const bool keep = msg.keep_alive() && !pending.response.close && !r.draining;
      detail::AppendResponse(out, pending.response, method == Method::kHead, !keep, r.date_line);
      if (!keep) close_after = true;
      reader.Next();
      s.SetPhase(buffer.size() > 0 ? Session::Phase::kHeader : Session::Phase::kIdle,
                 buffer.size() > 0 ? cfg.header_timeout_ms : cfg.idle_timeout_ms);
      if (out.size() > 256 * 1024) break;  // bound the pending output under deep pipelining
    }

    if (!out.empty()) {
      const Session::Phase resume = s.phase;
      const int64_t resume_deadline = s.deadline_ms;
      s.SetPhase(Session::Phase::kWriting, cfg.write_timeout_ms);
      auto [ec, n] = co_await asio::async_write(s.socket, asio::buffer(out), kTuple);
      if (ec) co_return;
      out.clear();
      if (out.capacity() > 64 * 1024) out.shrink_to_fit();
      s.phase = resume;
      s.deadline_ms = resume_deadline;
      if (resume == Session::Phase::kIdle)
        s.SetPhase(Session::Phase::kIdle, r.draining ? 100 : cfg.idle_timeout_ms);
    }

    if (close_after) {
      // Lingering close: stop sending, then read and discard what the client
      // is still sending for a bounded time, so our final response is not
      // destroyed by a reset caused by unread data.
      beast::error_code ec;
      s.socket.shutdown(tcp::socket::shutdown_send, ec);
      s.SetPhase(Session::Phase::kClosing, 1000);
      char sink[16 * 1024];
      size_t discarded = 0;
      while (discarded < (4u << 20)) {
        auto [rec, n] = co_await s.socket.async_read_some(asio::buffer(sink), kTuple);
        if (rec) break;
        discarded += n;
      }
      co_return;
    }
    if (buffer.size() > 0 && s.phase != Session::Phase::kIdle && buffer.size() >= buffer.max_size()) co_return;

    const size_t room = buffer.max_size() - buffer.size();
    auto [ec, n] = co_await s.socket.async_read_some(buffer.prepare(std::min(kReadSize, room)), kTuple);
    if (ec) co_return;  // EOF, reset, or closed by the sweeper
    buffer.commit(n);
    if (s.phase == Session::Phase::kIdle) s.SetPhase(Session::Phase::kHeader, cfg.header_timeout_ms);
  }
}

Server::Server(ServerConfig config, const Router& router, std::vector<std::unique_ptr<Middleware>> middlewares,
               const Authenticator* authenticator, obs::MetricsRegistry* metrics)
    : impl_(std::make_unique<Impl>(std::move(config), router, std::move(middlewares), authenticator, metrics)) {
  for (int i = 0; i < impl_->config.threads; ++i) impl_->reactors.push_back(std::make_unique<Reactor>(impl_->stats));
}

Server::~Server() = default;

void Server::Listen() {
  auto address = asio::ip::make_address(impl_->config.host);
  uint16_t port = impl_->config.port;
  for (auto& r : impl_->reactors) {
    tcp::endpoint ep(address, port);
    r->acceptor.emplace(r->io);
    r->acceptor->open(ep.protocol());
    r->acceptor->set_option(asio::socket_base::reuse_address(true));
    // Every reactor (and every worker process) binds the same port; the kernel
    // spreads new connections across them.
    int one = 1;
    if (::setsockopt(r->acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      throw std::system_error(errno, std::generic_category(), "SO_REUSEPORT");
    r->acceptor->bind(ep);
    r->acceptor->listen(4096);
    port = r->acceptor->local_endpoint().port();  // with port 0, the rest join the first's port
  }
  impl_->bound_port = port;
}

uint16_t Server::port() const { return impl_->bound_port; }

void Server::SetPeriodicHook(std::function<void()> hook) { impl_->periodic_hook = std::move(hook); }

void Server::Stop() {
  impl_->stopping = true;
  for (auto& r : impl_->reactors) {
    Reactor* raw = r.get();
    asio::post(raw->io, [this, raw] { impl_->BeginDrain(*raw); });
  }
}

void Server::Run(bool handle_signals) {
  for (auto& r : impl_->reactors) {
    r->RefreshDate();
    asio::co_spawn(r->io, impl_->AcceptLoop(*r), asio::detached);
    asio::co_spawn(r->io, impl_->SweepLoop(*r), asio::detached);
  }
  if (handle_signals) {
    Reactor& first = *impl_->reactors.front();
    first.signals.emplace(first.io, SIGTERM, SIGINT);
    first.signals->async_wait([this](const beast::error_code& ec, int signo) {
      if (ec) return;
      obs::LogInfo("draining", {{"signal", signo}, {"drain_timeout_ms", impl_->config.drain_timeout_ms}});
      Stop();
    });
  }
  if (impl_->stopping) Stop();
  std::vector<std::thread> threads;
  for (size_t i = 1; i < impl_->reactors.size(); ++i)
    threads.emplace_back([r = impl_->reactors[i].get()] { r->io.run(); });
  impl_->reactors.front()->io.run();
  for (auto& t : threads) t.join();
}

}  // namespace shopd::http

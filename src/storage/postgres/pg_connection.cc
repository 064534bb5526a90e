#include "storage/postgres/pg_connection.h"

#include <libpq-fe.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <cstring>
#include <unordered_map>
#include <utility>

namespace shopd::storage::postgres {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

core::Error Unavailable(std::string detail) {
  core::Error e = core::Error::Make(core::Errc::kUnavailable, "database is unavailable, retry shortly",
                                    std::move(detail));
  e.retry_after_s = 1;
  return e;
}

std::string ConnError(PGconn* c) {
  std::string m = c ? PQerrorMessage(c) : "out of memory";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Maps a failed statement by its SQLSTATE.
core::Error StatementError(const PGresult* r, const std::string& sql) {
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string code = state ? state : "";
  std::string detail = PQresultErrorMessage(r);
  while (!detail.empty() && detail.back() == '\n') detail.pop_back();
  detail = "[" + code + "] " + detail + " in: " + sql.substr(0, 200);
  if (code == "23505") return core::Error::Make(core::Errc::kConflict, "already exists", std::move(detail));
  // Serialization failure, deadlock, cancelled, too many connections, shutting down.
  if (code == "40001" || code == "40P01" || code == "57014" || code == "53300" || code.starts_with("57P"))
    return Unavailable(std::move(detail));
  return core::Error::Make(core::Errc::kInternal, "internal error", std::move(detail));
}

}  // namespace

// PgResult

PgResult::PgResult(pg_result* r) : r_(r) {}
PgResult::~PgResult() {
  if (r_) PQclear(r_);
}
int PgResult::rows() const { return PQntuples(r_); }
bool PgResult::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string PgResult::Text(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}
int64_t PgResult::Int64(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const char* v = PQgetvalue(r_, row, col);
  int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r_, row, col), out);
  return out;
}
bool PgResult::Bool(int row, int col) const { return !IsNull(row, col) && PQgetvalue(r_, row, col)[0] == 't'; }
int64_t PgResult::Affected() const {
  const char* n = PQcmdTuples(r_);
  int64_t out = 0;
  std::from_chars(n, n + std::strlen(n), out);
  return out;
}

// PgConnection

struct PgConnection::Impl {
  Impl(asio::any_io_executor ex, PGconn* c) : conn(c), socket(ex) {}
  ~Impl() {
    // libpq owns the socket: detach it from Asio before PQfinish closes it.
    if (socket.is_open()) {
      boost::system::error_code ignored;
      socket.cancel(ignored);
      (void)socket.release();
    }
    if (conn) PQfinish(conn);
  }

  // Watches libpq's current socket (it can change while connecting).
  bool Track() {
    const int fd = PQsocket(conn);
    if (fd < 0) return false;
    if (socket.is_open() && socket.native_handle() == fd) return true;
    if (socket.is_open()) (void)socket.release();
    boost::system::error_code ec;
    socket.assign(fd, ec);
    return !ec;
  }

  // Waits until the socket is ready for `what`; false at the deadline.
  asio::awaitable<bool> WaitFor(asio::posix::descriptor_base::wait_type what, Clock::time_point deadline) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(socket.get_executor(), deadline);
    auto first = co_await (socket.async_wait(what, asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    co_return first.index() == 0;
  }

  // What `sql` runs as on this connection: a statement already prepared, or
  // the name to prepare it under; nullopt once the cache is full, when the
  // statement is sent unprepared. Bounded: the application's statements are
  // a fixed set well under the limit.
  struct Prepared {
    std::string name;
    bool ready;
  };
  std::optional<Prepared> PreparedFor(const std::string& sql) {
    if (auto it = prepared.find(sql); it != prepared.end()) return Prepared{it->second, true};
    if (prepared.size() >= kMaxPrepared) return std::nullopt;
    return Prepared{"shopd_" + std::to_string(next_statement++), false};
  }

  // Sends what libpq holds and reads every result of the statement, up to
  // the terminating null; the first error wins.
  asio::awaitable<core::Result<PgResult>> Collect(const std::string& sql, Clock::time_point deadline,
                                                 std::chrono::milliseconds timeout) {
    // Until the whole query is out: libpq may need to read before it can write.
    for (;;) {
      const int flushed = PQflush(conn);
      if (flushed == 0) break;
      if (flushed < 0 || !co_await WaitFor(asio::posix::descriptor_base::wait_write, deadline)) {
        healthy = false;
        co_return Unavailable(flushed < 0 ? "send: " + ConnError(conn) : "query timed out while sending");
      }
      if (PQconsumeInput(conn) == 0) {
        healthy = false;
        co_return Unavailable("send: " + ConnError(conn));
      }
    }
    std::optional<PgResult> last;
    std::optional<core::Error> failed;
    failed_state.clear();
    for (;;) {
      while (PQisBusy(conn)) {
        if (!co_await WaitFor(asio::posix::descriptor_base::wait_read, deadline)) {
          healthy = false;  // the statement may still run: its outcome is unknown
          co_return Unavailable("query timed out after " + std::to_string(timeout.count()) + " ms");
        }
        if (PQconsumeInput(conn) == 0) {
          healthy = false;
          co_return Unavailable("receive: " + ConnError(conn));
        }
      }
      PGresult* r = PQgetResult(conn);
      if (r == nullptr) break;
      const ExecStatusType status = PQresultStatus(r);
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        if (!failed) {
          failed = StatementError(r, sql);
          const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
          failed_state = state ? state : "";
        }
        PQclear(r);
        continue;
      }
      last.emplace(r);
    }
    if (failed) co_return *failed;
    if (!last) co_return core::Error::Make(core::Errc::kInternal, "internal error", "no result for: " + sql);
    co_return std::move(*last);
  }

  static constexpr size_t kMaxPrepared = 256;
  PGconn* conn;
  asio::posix::stream_descriptor socket;
  bool healthy = true;
  std::unordered_map<std::string, std::string> prepared;  // SQL -> statement name
  uint64_t next_statement = 0;
  std::string failed_state;  // SQLSTATE of the last Collect's first error, if it failed
};

PgConnection::PgConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgConnection::~PgConnection() = default;
// A connection left inside a transaction (a caller returned early) is not
// reusable either: the next user would inherit its locks and statements.
bool PgConnection::healthy() const {
  return impl_->healthy && PQstatus(impl_->conn) == CONNECTION_OK && PQtransactionStatus(impl_->conn) == PQTRANS_IDLE;
}

asio::awaitable<core::Result<std::unique_ptr<PgConnection>>> PgConnection::Connect(
    asio::any_io_executor executor, std::string conninfo, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto impl = std::make_unique<Impl>(executor, PQconnectStart(conninfo.c_str()));
  if (impl->conn == nullptr || PQstatus(impl->conn) == CONNECTION_BAD)
    co_return Unavailable("connect: " + ConnError(impl->conn));
  for (;;) {
    const PostgresPollingStatusType step = PQconnectPoll(impl->conn);
    if (step == PGRES_POLLING_OK) break;
    if (step == PGRES_POLLING_FAILED) co_return Unavailable("connect: " + ConnError(impl->conn));
    if (!impl->Track()) co_return Unavailable("connect: no socket");
    const auto what = step == PGRES_POLLING_READING ? asio::posix::descriptor_base::wait_read
                                                    : asio::posix::descriptor_base::wait_write;
    if (!co_await impl->WaitFor(what, deadline)) co_return Unavailable("connect: timed out");
  }
  if (PQsetnonblocking(impl->conn, 1) != 0 || !impl->Track())
    co_return Unavailable("connect: " + ConnError(impl->conn));
  co_return std::unique_ptr<PgConnection>(new PgConnection(std::move(impl)));
}

asio::awaitable<core::Result<PgResult>> PgConnection::Query(std::string sql, std::vector<PgParam> params,
                                                            std::chrono::milliseconds timeout) {
  Impl& c = *impl_;
  if (!c.healthy || PQstatus(c.conn) != CONNECTION_OK) co_return Unavailable("connection is broken");
  const auto deadline = Clock::now() + timeout;
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  const int count = static_cast<int>(values.size());
  // Statements with parameters are the application's fixed SQL: parsed and
  // planned once per connection, then only executed (see PreparedFor).
  // Parameterless ones (BEGIN, COMMIT, migrations' DDL) go as they are.
  const auto statement = count > 0 ? c.PreparedFor(sql) : std::nullopt;
  if (statement && !statement->ready) {
    if (PQsendPrepare(c.conn, statement->name.c_str(), sql.c_str(), count, nullptr) == 0) {
      c.healthy = false;
      co_return Unavailable("send: " + ConnError(c.conn));
    }
    auto parsed = co_await c.Collect(sql, deadline, timeout);
    if (!parsed) co_return parsed.error();
    c.prepared.emplace(sql, statement->name);
  }
  const int sent =
      statement ? PQsendQueryPrepared(c.conn, statement->name.c_str(), count, values.data(), nullptr, nullptr, 0)
                : PQsendQueryParams(c.conn, sql.c_str(), count, nullptr, values.data(), nullptr, nullptr, 0);
  if (sent == 0) {
    c.healthy = false;
    co_return Unavailable("send: " + ConnError(c.conn));
  }
  auto result = co_await c.Collect(sql, deadline, timeout);
  // A statement the server no longer knows, or whose cached plan no longer
  // fits the table: prepared afresh next time.
  if (!result && statement && (c.failed_state == "26000" || c.failed_state == "0A000")) c.prepared.erase(sql);
  co_return result;
}

namespace {
std::vector<std::string> TakeNotifications(PGconn* conn) {
  std::vector<std::string> channels;
  while (PGnotify* n = PQnotifies(conn)) {
    channels.emplace_back(n->relname);
    PQfreemem(n);
  }
  return channels;
}
}  // namespace

asio::awaitable<core::Result<std::vector<std::string>>> PgConnection::WaitForNotifications(
    std::chrono::milliseconds timeout) {
  Impl& c = *impl_;
  if (!c.healthy || PQstatus(c.conn) != CONNECTION_OK) co_return Unavailable("connection is broken");
  if (auto queued = TakeNotifications(c.conn); !queued.empty()) co_return queued;
  if (!co_await c.WaitFor(asio::posix::descriptor_base::wait_read, Clock::now() + timeout))
    co_return std::vector<std::string>{};
  if (PQconsumeInput(c.conn) == 0) {
    c.healthy = false;
    co_return Unavailable("receive: " + ConnError(c.conn));
  }
  co_return TakeNotifications(c.conn);
}

void PgConnection::CancelWait() {
  boost::system::error_code ignored;
  impl_->socket.cancel(ignored);
}

}  // namespace shopd::storage::postgres

#include "storage/postgres/testing/postgres_test_server.h"

// CMake's PostgreSQL target puts Debian's /usr/include/postgresql on the include path; a bare
// `g++ ... -lpq` (a quick local check) does not.
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

#include "core/testing/server_process.h"

extern char** environ;

namespace shopd::storage::postgres::testing {
namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kUser = "shopd_test";
constexpr int kPortAttempts = 5;
constexpr int kStartTimeoutS = 30;
constexpr int kStopTimeoutS = 10;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string Bin(const char* name) { return std::string(kBinDir) + "/" + name; }

// Comma-separated names of the binaries we need that are not installed; empty when all are.
std::string MissingBinaries() {
  std::string missing;
  for (const char* name : {"initdb", "pg_ctl", "postgres"}) {
    if (access(Bin(name).c_str(), X_OK) != 0) missing += (missing.empty() ? "" : ", ") + std::string(name);
  }
  return missing;
}

bool RequirePostgres() {
  const char* require = std::getenv("SHOPD_REQUIRE_POSTGRES");
  return require != nullptr && std::string_view(require) == "1";
}

std::runtime_error Failure(const std::string& what) { return std::runtime_error("PostgresTestServer: " + what); }
std::runtime_error ErrnoFailure(const std::string& what) { return Failure(what + ": " + std::strerror(errno)); }

size_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

std::string ReadFile(const std::string& path, size_t from = 0) { return shopd::testing::ReadFileFrom(path, from); }
std::string Tail(std::string text) { return shopd::testing::LogTail(std::move(text), 3000); }

int PickFreePort() {
  const int port = shopd::testing::PickFreeLoopbackPort();
  if (port < 0) throw ErrnoFailure("picking a free port");
  return port;
}

std::string StatPath(pid_t pid) { return "/proc/" + std::to_string(pid) + "/stat"; }

// The postmaster is reparented to init once pg_ctl exits, and a dead one may linger as a zombie
// (that kill(pid, 0) still reports) until init gets round to reaping it; count that as dead. Raw
// syscalls only, because the watchdog calls this in a fork()ed child.
bool IsAlive(pid_t pid, const char* stat_path) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  const int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buf[256];
  const ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  // "pid (comm) S ...": the state follows the last ')', and comm is at most 16 bytes.
  for (ssize_t i = n - 1; i >= 0; --i) {
    if (buf[i] == ')') return !(i + 2 < n && buf[i + 2] == 'Z');
  }
  return true;
}

bool IsAlive(pid_t pid) { return pid > 0 && IsAlive(pid, StatPath(pid).c_str()); }

bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (IsAlive(pid)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// The first line of postmaster.pid; -1 when there is none (the server is not running, or never
// got that far).
pid_t ReadPostmasterPid(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  long pid = -1;
  if (!(in >> pid) || pid <= 0) return -1;
  return static_cast<pid_t>(pid);
}

// The caller's environment without locale and libpq/PG* settings: the server's messages must be
// in English (we look for "Address already in use" in its log), and a developer's PGDATA, PGPORT
// or PGOPTIONS must not reach our server.
std::vector<std::string> ChildEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (kv.starts_with("LANG") || kv.starts_with("LC_") || kv.starts_with("PG")) continue;
    env.emplace_back(kv);
  }
  env.emplace_back("LC_ALL=C");
  return env;
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// pg_ctl pastes the data dir, the log path and the -o options into a /bin/sh command line (inside
// double quotes, except -o, which we single-quote), and postgres splits unix_socket_directories on
// commas; a temp dir with any of these characters would be mangled.
void CheckTempDirIsUsable(const std::string& dir) {
  for (const char c : dir) {
    if (c == '"' || c == '$' || c == '`' || c == '\\' || c == '\'' || c == ',' || static_cast<unsigned char>(c) < 0x20)
      throw Failure("temp dir " + dir + " contains a character pg_ctl cannot quote; set TMPDIR to a plain path");
  }
  // The socket is <dir>/.s.PGSQL.<port>, and sun_path is short (108 bytes on Linux).
  if (dir.size() + std::strlen("/.s.PGSQL.65535") >= sizeof(sockaddr_un::sun_path))
    throw Failure("temp dir " + dir + " is too long for a unix socket path; set TMPDIR to a shorter path");
}

// libpq conninfo value quoting: single quotes, with \ and ' escaped, when the value needs it.
std::string ConnInfoValue(const std::string& value) {
  if (!value.empty() && value.find_first_of(" \t\n'\\") == std::string::npos) return value;
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string QuoteIdentifier(const std::string& name) {
  std::string out = "\"";
  for (const char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs one statement on a fresh connection. Returns "" on success, else the error; `value` gets the
// first column of the first row, if any.
std::string ExecOnce(const std::string& conninfo, const std::string& sql, std::string* value = nullptr) {
  const std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (!conn) return "out of memory";
  if (PQstatus(conn.get()) != CONNECTION_OK) return "connect: " + Trimmed(PQerrorMessage(conn.get()));
  const std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), sql.c_str()), &PQclear);
  const ExecStatusType status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Trimmed(PQerrorMessage(conn.get()));
  if (value != nullptr && PQntuples(res.get()) > 0 && PQnfields(res.get()) > 0) *value = PQgetvalue(res.get(), 0, 0);
  return {};
}

}  // namespace

PostgresTestServer::PostgresTestServer() : owner_pid_(getpid()) {
  try {
    Start();
  } catch (...) {
    Cleanup();
    throw;
  }
}

PostgresTestServer::~PostgresTestServer() {
  // A fork()ed child (a gtest death test) that runs static destructors holds a copy of the
  // parent's server; stopping it would pull the server out from under the parent.
  if (getpid() != owner_pid_) return;
  Cleanup();
}

std::string PostgresTestServer::ConnInfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + ConnInfoValue(dbname) + " user=" + kUser +
         " connect_timeout=5";
}

std::string PostgresTestServer::CreateDatabase() {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string name = "shopd_test_" + std::to_string(++next_db_);
  // template0, because CREATE DATABASE fails while anyone is connected to its template, and nobody
  // can connect to template0.
  const std::string error = AdminExec("CREATE DATABASE " + name + " OWNER " + kUser + " TEMPLATE template0");
  if (!error.empty()) throw Failure("CREATE DATABASE " + name + " failed: " + error);
  return name;
}

void PostgresTestServer::DropDatabase(const std::string& name) {
  try {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string error = AdminExec("DROP DATABASE IF EXISTS " + QuoteIdentifier(name) + " WITH (FORCE)");
    if (!error.empty()) std::cerr << "PostgresTestServer: DROP DATABASE " << name << " failed: " << error << "\n";
  } catch (...) {
    // Best effort: the whole server is deleted at exit anyway.
  }
}

std::string PostgresTestServer::AdminExec(const std::string& sql) {
  for (int attempt = 1;; ++attempt) {
    if (admin_ == nullptr || PQstatus(admin_) != CONNECTION_OK) {
      if (admin_ != nullptr) PQfinish(admin_);
      admin_ = PQconnectdb(ConnInfo("postgres").c_str());
      if (admin_ == nullptr) return "connect: out of memory";
      if (PQstatus(admin_) != CONNECTION_OK) return "connect: " + Trimmed(PQerrorMessage(admin_));
      // DROP DATABASE IF EXISTS of a missing database is not worth a NOTICE on the test's stderr.
      PQsetNoticeProcessor(admin_, [](void*, const char*) {}, nullptr);
    }
    const std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(admin_, sql.c_str()), &PQclear);
    const ExecStatusType status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
    const std::string error = Trimmed(PQerrorMessage(admin_));
    // A test may have terminated every session (pg_terminate_backend) including ours: one more
    // try on a fresh connection.
    if (PQstatus(admin_) == CONNECTION_OK || attempt == 2) return error;
  }
}

PostgresTestServer* PostgresTestServer::Shared() {
  struct Slot {
    std::unique_ptr<PostgresTestServer> server;
    std::string missing;  // why there is no server, when the binaries are not installed
    std::string error;    // why the installed server did not start
  };
  static Slot slot = [] {
    Slot s;
    if (const std::string missing = MissingBinaries(); !missing.empty()) {
      s.missing = "PostgresTestServer: PostgreSQL 15 is not installed (no " + missing + " in " + kBinDir +
                  "; install the postgresql-15 package)";
      if (!RequirePostgres())
        std::cerr << s.missing << "; tests that need it are skipped (SHOPD_REQUIRE_POSTGRES=1 fails them)\n";
      return s;
    }
    try {
      s.server = std::make_unique<PostgresTestServer>();
    } catch (const std::exception& e) {
      s.error = e.what();
    }
    return s;
  }();
  if (!slot.error.empty()) throw std::runtime_error(slot.error);
  if (!slot.missing.empty()) {
    if (RequirePostgres()) throw std::runtime_error(slot.missing);
    return nullptr;
  }
  return slot.server.get();
}

void PostgresTestServer::Start() {
  if (const std::string missing = MissingBinaries(); !missing.empty())
    throw Failure("PostgreSQL 15 is not installed (no " + missing + " in " + kBinDir + ")");

  // initdb and postgres refuse to run as root; containers and CI often are root.
  if (geteuid() == 0) {
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (getpwnam_r("postgres", &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
      throw Failure("running as root, and there is no 'postgres' user to run the server as (install postgresql-15)");
    run_uid_ = pw.pw_uid;
    run_gid_ = pw.pw_gid;
  }

  std::string dir = (std::filesystem::temp_directory_path() / "shopd-pg-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) throw ErrnoFailure("mkdtemp " + dir);
  temp_dir_ = dir;
  CheckTempDirIsUsable(temp_dir_);
  if (run_uid_ != static_cast<uid_t>(-1) && chown(temp_dir_.c_str(), run_uid_, run_gid_) != 0)
    throw ErrnoFailure("chown " + temp_dir_ + " to postgres");
  data_dir_ = temp_dir_ + "/data";
  log_file_ = temp_dir_ + "/server.log";
  const std::string as_user = run_uid_ == static_cast<uid_t>(-1) ? "" : " (as user postgres)";

  const std::string initdb_log = temp_dir_ + "/initdb.log";
  const int initdb = Run({Bin("initdb"), "-D", data_dir_, "-U", kUser, "--auth=trust", "-E", "UTF8", "--locale=C",
                          "--no-sync"},
                         initdb_log, 60'000);
  if (initdb != 0) {
    throw Failure("initdb" + as_user + (initdb < 0 ? " timed out" : " failed, exit " + std::to_string(initdb)) +
                  "; its output:\n" + Tail(ReadFile(initdb_log)) +
                  (as_user.empty() ? "" : "\n(the postgres user must be able to reach " + temp_dir_ + ")"));
  }

  const std::string pg_ctl_log = temp_dir_ + "/pg_ctl.log";
  for (int attempt = 1; attempt <= kPortAttempts; ++attempt) {
    port_ = PickFreePort();
    const size_t log_start = FileSize(log_file_);
    const size_t pg_ctl_log_start = FileSize(pg_ctl_log);
    const std::string options = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                                "-c max_connections=200 -c shared_buffers=32MB -p " +
                                std::to_string(port_) +
                                " -c listen_addresses=127.0.0.1 -c unix_socket_directories='" + temp_dir_ + "'";
    const int rc = Run({Bin("pg_ctl"), "-D", data_dir_, "-l", log_file_, "-w", "-t", std::to_string(kStartTimeoutS),
                        "-o", options, "start"},
                       pg_ctl_log, (kStartTimeoutS + 5) * 1000);
    if (rc == 0) {
      postmaster_pid_ = ReadPostmasterPid(data_dir_);
      // pg_ctl -w already waited for "ready"; this proves the TCP listener, the user and trust auth.
      std::string error, one;
      const auto deadline = Clock::now() + 5s;
      while (!(error = ExecOnce(ConnInfo("postgres"), "SELECT 1", &one)).empty() && Clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
      if (error.empty() && one == "1") {
        StartWatchdog();
        return;
      }
      throw Failure("the server started on port " + std::to_string(port_) + " but SELECT 1 failed: " + error +
                    "\nserver log (" + log_file_ + "):\n" + Tail(ReadFile(log_file_, log_start)));
    }

    // pg_ctl gives up after -t but leaves a slow server starting; it must not outlive this attempt.
    const pid_t stray = ReadPostmasterPid(data_dir_);
    if (IsAlive(stray)) {
      kill(stray, SIGKILL);
      WaitForExit(stray, 5s);
    }
    const std::string log = ReadFile(log_file_, log_start);
    // Another process took the port between our probe and the postmaster's bind.
    const bool port_taken = log.find("Address already in use") != std::string::npos;
    if (port_taken && attempt < kPortAttempts) continue;
    throw Failure("pg_ctl start" + as_user + " on port " + std::to_string(port_) +
                  (rc < 0 ? " timed out" : " failed, exit " + std::to_string(rc)) +
                  (port_taken ? " (port in use, " + std::to_string(kPortAttempts) + " attempts)" : "") +
                  "\npg_ctl output:\n" + Tail(ReadFile(pg_ctl_log, pg_ctl_log_start)) + "\nserver log (" +
                  log_file_ + "):\n" + Tail(log));
  }
}

void PostgresTestServer::Cleanup() noexcept {
  if (admin_ != nullptr) {
    PQfinish(admin_);
    admin_ = nullptr;
  }
  if (!data_dir_.empty()) {
    const pid_t pid = postmaster_pid_ > 0 ? postmaster_pid_ : ReadPostmasterPid(data_dir_);
    if (IsAlive(pid)) {
      try {
        Run({Bin("pg_ctl"), "-D", data_dir_, "-m", "immediate", "-w", "-t", std::to_string(kStopTimeoutS), "stop"},
            temp_dir_ + "/pg_ctl.log", kStopTimeoutS * 1000);
      } catch (...) {
        // Falls through to kill -9.
      }
      if (IsAlive(pid)) {
        kill(pid, SIGKILL);
        WaitForExit(pid, 5s);
      }
    }
  }
  if (!temp_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir_, ignored);
  }
  // Last, so that a test process killed halfway through this still gets cleaned up after.
  StopWatchdog();
}

int PostgresTestServer::Run(const std::vector<std::string>& argv, const std::string& output_path,
                            int timeout_ms) const {
  // Everything the child needs is prepared here: between fork and exec only async-signal-safe
  // calls are allowed, since other test threads may hold malloc's or stdio's locks.
  const std::vector<std::string> env = ChildEnvironment();
  std::vector<char*> args = CStrings(argv);
  std::vector<char*> envp = CStrings(env);
  const bool switch_user = run_uid_ != static_cast<uid_t>(-1);
  const uid_t uid = run_uid_;
  const gid_t gid = run_gid_;
  const char* cwd = temp_dir_.c_str();

  const int out = open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw ErrnoFailure("open " + output_path);
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    close(out);
    throw ErrnoFailure("open /dev/null");
  }

  const pid_t pid = fork();
  if (pid < 0) {
    close(out);
    close(devnull);
    throw ErrnoFailure("fork");
  }
  if (pid == 0) {
    auto die = [](const char* msg) {
      (void)!write(2, msg, std::strlen(msg));
      _exit(127);
    };
    if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
    // The postmaster outlives pg_ctl and this process's children; it must not keep the test's
    // sockets (a listening port) or files open.
    close_range(3, ~0U, 0);
    // Root's cwd is often unreadable for postgres, and initdb stats its cwd.
    if (chdir(cwd) != 0) die("PostgresTestServer: chdir to the temp dir failed\n");
    if (switch_user && (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0))
      die("PostgresTestServer: switching to the postgres user failed\n");
    execve(args[0], args.data(), envp.data());
    die("PostgresTestServer: exec failed\n");
  }
  close(out);
  close(devnull);

  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
}

// pg_ctl detaches the postmaster into its own session, so a test process that dies without running
// its destructors (^C, a ctest timeout's SIGKILL, abort) would leave it running for good, with its
// temp dir. A forked watchdog waits on a socket to us: EOF without our goodbye byte means we died,
// and it stops the server and removes the dir itself.
void PostgresTestServer::StartWatchdog() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw ErrnoFailure("socketpair");
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  const std::vector<std::string> rm = {"/bin/rm", "-rf", "--", temp_dir_};
  std::vector<char*> rm_args = CStrings(rm);
  const pid_t postmaster = postmaster_pid_;
  const std::string postmaster_stat = StatPath(postmaster);

  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    if (devnull >= 0) close(devnull);
    throw ErrnoFailure("fork");
  }
  if (pid == 0) {
    // Out of the test's session and deaf to its signals, or ^C would kill the watchdog along with
    // the test it is there to clean up after.
    setsid();
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) sigaction(sig, &ignore, nullptr);
    const int keep = fcntl(fds[1], F_DUPFD, 10);
    if (keep < 0) _exit(0);  // no watchdog is better than one that mistakes this for our death
    // Not holding the test's stdout/stderr open: ctest waits for those pipes to close.
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    dup2(keep, 3);
    close_range(4, ~0U, 0);
    char byte = 0;
    ssize_t n;
    do {
      n = read(3, &byte, 1);
    } while (n < 0 && errno == EINTR);
    // Only EOF means our owner died; a byte means it is cleaning up itself.
    if (n != 0) _exit(0);

    if (IsAlive(postmaster, postmaster_stat.c_str())) {
      kill(postmaster, SIGQUIT);  // an immediate shutdown
      const timespec tick{0, 50'000'000};
      for (int i = 0; i < 100 && IsAlive(postmaster, postmaster_stat.c_str()); ++i) nanosleep(&tick, nullptr);
      kill(postmaster, SIGKILL);
      for (int i = 0; i < 40 && IsAlive(postmaster, postmaster_stat.c_str()); ++i) nanosleep(&tick, nullptr);
    }
    execv(rm_args[0], rm_args.data());
    _exit(127);
  }
  close(fds[1]);
  if (devnull >= 0) close(devnull);
  watchdog_fd_ = fds[0];
  watchdog_pid_ = pid;
}

void PostgresTestServer::StopWatchdog() noexcept {
  if (watchdog_fd_ >= 0) {
    (void)!send(watchdog_fd_, "q", 1, MSG_NOSIGNAL);
    close(watchdog_fd_);
    watchdog_fd_ = -1;
  }
  if (watchdog_pid_ > 0) {
    int status = 0;
    const auto deadline = Clock::now() + 2s;
    while (waitpid(watchdog_pid_, &status, WNOHANG) == 0) {
      if (Clock::now() >= deadline) {
        kill(watchdog_pid_, SIGKILL);
        waitpid(watchdog_pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    watchdog_pid_ = -1;
  }
}

}  // namespace shopd::storage::postgres::testing

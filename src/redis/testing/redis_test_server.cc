#include "redis/testing/redis_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
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
#include "redis/resp.h"

namespace shopd::redis::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kPortAttempts = 5;
constexpr auto kStartTimeout = 10s;
constexpr auto kStopTimeout = 5s;
constexpr int kCommandTimeoutMs = 5000;

std::runtime_error Failure(const std::string& what) { return std::runtime_error("RedisTestServer: " + what); }
std::runtime_error ErrnoFailure(const std::string& what) { return Failure(what + ": " + std::strerror(errno)); }

// redis-server from PATH, else Debian's path; "" when neither exists.
std::string FindBinary() {
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string_view rest(path);
    while (!rest.empty()) {
      const size_t colon = rest.find(':');
      const std::string dir(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      if (dir.empty()) continue;
      const std::string candidate = dir + "/redis-server";
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return access("/usr/bin/redis-server", X_OK) == 0 ? "/usr/bin/redis-server" : "";
}

bool RequireRedis() {
  const char* require = std::getenv("SHOPD_REQUIRE_REDIS");
  return require != nullptr && std::string_view(require) == "1";
}

std::string ReadFile(const std::string& path) { return shopd::testing::ReadFileFrom(path); }
std::string Tail(std::string text) { return shopd::testing::LogTail(std::move(text), 2000); }

int PickFreePort() {
  const int port = shopd::testing::PickFreeLoopbackPort();
  if (port < 0) throw ErrnoFailure("picking a free port");
  return port;
}

// A blocking loopback connection with a deadline on every step; test code
// only, so blocking is fine here.
class BlockingConnection {
 public:
  explicit BlockingConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw ErrnoFailure("socket");
    timeval tv{kCommandTimeoutMs / 1000, (kCommandTimeoutMs % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      const int saved = errno;
      close(fd_);
      errno = saved;
      throw ErrnoFailure("connect to 127.0.0.1:" + std::to_string(port));
    }
  }
  ~BlockingConnection() { close(fd_); }
  BlockingConnection(const BlockingConnection&) = delete;
  BlockingConnection& operator=(const BlockingConnection&) = delete;

  RedisReply Call(const std::vector<std::string>& args) {
    std::string wire;
    AppendCommand(wire, args);
    for (size_t off = 0; off < wire.size();) {
      const ssize_t n = send(fd_, wire.data() + off, wire.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw ErrnoFailure("send");
      off += static_cast<size_t>(n);
    }
    char buf[16384];
    for (;;) {
      auto next = reader_.Next();
      if (!next) throw Failure(next.error().internal);
      if (*next) return std::move(**next);
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) throw Failure("the server closed the connection");
      if (n < 0) throw ErrnoFailure("recv (no reply within " + std::to_string(kCommandTimeoutMs) + " ms)");
      reader_.Feed(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  ReplyReader reader_;
};

bool Exited(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == pid;
}

}  // namespace

RedisTestServer::RedisTestServer(RedisTestServerOptions options)
    : options_(std::move(options)), owner_pid_(getpid()), binary_(FindBinary()) {
  if (binary_.empty()) throw Failure(MissingReason());
  std::string dir = (std::filesystem::temp_directory_path() / "shopd-redis-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) throw ErrnoFailure("mkdtemp " + dir);
  temp_dir_ = dir;
  log_file_ = temp_dir_ + "/redis.log";
  try {
    Launch(/*same_port=*/false);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir_, ignored);
    throw;
  }
}

RedisTestServer::~RedisTestServer() {
  if (getpid() != owner_pid_) return;
  Kill();
  std::error_code ignored;
  std::filesystem::remove_all(temp_dir_, ignored);
}

std::string RedisTestServer::Url(int db) const {
  return "redis://" + (options_.password.empty() ? "" : ":" + options_.password + "@") + "127.0.0.1:" +
         std::to_string(port_) + "/" + std::to_string(db);
}

void RedisTestServer::Pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void RedisTestServer::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

void RedisTestServer::Stop() { Kill(); }

void RedisTestServer::Start() {
  if (pid_ > 0) return;
  Launch(/*same_port=*/true);
}

void RedisTestServer::Kill() noexcept {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);  // a paused server would never see the SIGTERM
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + kStopTimeout;
  while (!Exited(pid_)) {
    if (Clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  pid_ = -1;
}

void RedisTestServer::Launch(bool same_port) {
  for (int attempt = 1; attempt <= kPortAttempts; ++attempt) {
    if (!same_port) port_ = PickFreePort();
    std::vector<std::string> argv = {binary_,       "--port",     std::to_string(port_), "--bind",
                                     "127.0.0.1",   "--save",     "",                    "--appendonly",
                                     "no",          "--dir",      temp_dir_,             "--daemonize",
                                     "no",          "--logfile",  "",                    "--databases",
                                     "16"};
    if (!options_.password.empty()) {
      argv.push_back("--requirepass");
      argv.push_back(options_.password);
    }
    // Prepared before fork: only async-signal-safe calls are allowed in the child.
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int out = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) throw ErrnoFailure("open " + log_file_);
    const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      close(out);
      if (devnull >= 0) close(devnull);
      throw ErrnoFailure("fork");
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);  // the parent died before prctl took effect
      if (devnull >= 0) dup2(devnull, 0);
      dup2(out, 1);
      dup2(out, 2);
      // The server must not hold the test's sockets or files open.
      close_range(3, ~0U, 0);
      execv(args[0], args.data());
      _exit(127);
    }
    close(out);
    if (devnull >= 0) close(devnull);
    pid_ = pid;

    const auto deadline = Clock::now() + kStartTimeout;
    std::string last_error;
    for (;;) {
      if (Exited(pid_)) {
        pid_ = -1;
        const std::string log = ReadFile(log_file_);
        const bool port_taken = log.find("Address already in use") != std::string::npos;
        if (port_taken && !same_port && attempt < kPortAttempts) break;
        throw Failure("redis-server exited at start on port " + std::to_string(port_) + "; its log:\n" + Tail(log));
      }
      try {
        if (Command({"PING"}).str == "PONG") return;
      } catch (const std::exception& e) {
        last_error = e.what();
      }
      if (Clock::now() >= deadline) {
        Kill();
        throw Failure("redis-server did not answer PING on port " + std::to_string(port_) + " within 10 s (" +
                      last_error + "); its log:\n" + Tail(ReadFile(log_file_)));
      }
      std::this_thread::sleep_for(5ms);
    }
  }
  throw Failure("no free port after " + std::to_string(kPortAttempts) + " attempts");
}

RedisReply RedisTestServer::Command(std::vector<std::string> args, int db) const {
  BlockingConnection conn(port_);
  if (!options_.password.empty()) {
    RedisReply auth = conn.Call({"AUTH", options_.password});
    if (auth.IsError()) throw Failure("AUTH failed: " + auth.Describe());
  }
  if (db != 0) {
    RedisReply select = conn.Call({"SELECT", std::to_string(db)});
    if (select.IsError()) throw Failure("SELECT failed: " + select.Describe());
  }
  return conn.Call(args);
}

std::string RedisTestServer::MissingReason() {
  if (!FindBinary().empty()) return "";
  return "RedisTestServer: redis-server is not installed (not on PATH nor /usr/bin; install the redis-server "
         "package, e.g. scripts/install_deps.sh test)";
}

std::string RedisTestServer::SkipReason() {
  std::string missing = MissingReason();
  if (!missing.empty() && RequireRedis()) throw std::runtime_error(missing + " (SHOPD_REQUIRE_REDIS=1)");
  return missing;
}

RedisTestServer* RedisTestServer::Shared() {
  struct Slot {
    std::unique_ptr<RedisTestServer> server;
    std::string missing;
    std::string error;
  };
  static Slot slot = [] {
    Slot s;
    s.missing = MissingReason();
    if (!s.missing.empty()) {
      if (!RequireRedis())
        std::cerr << s.missing << "; tests that need it are skipped (SHOPD_REQUIRE_REDIS=1 fails them)\n";
      return s;
    }
    try {
      s.server = std::make_unique<RedisTestServer>();
    } catch (const std::exception& e) {
      s.error = e.what();
    }
    return s;
  }();
  if (!slot.error.empty()) throw std::runtime_error(slot.error);
  if (!slot.missing.empty()) {
    if (RequireRedis()) throw std::runtime_error(slot.missing);
    return nullptr;
  }
  return slot.server.get();
}

}  // namespace shopd::redis::testing

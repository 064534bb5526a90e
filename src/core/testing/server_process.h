// core/testing: helpers for tests that run a real server process of their
// own (PostgreSQL, Redis): a free loopback port, and the tail of its log for
// an exception message. Header-only, for test targets only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <string>

namespace shopd::testing {

// A loopback TCP port nothing listens on right now (the caller retries if it
// loses the race), or -1 with errno set.
inline int PickFreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// The file's bytes from offset `from` on ("" when it cannot be read).
inline std::string ReadFileFrom(const std::string& path, size_t from = 0) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(from));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The last lines of `text` (at most `max_bytes`, starting at a line), each
// indented, for an exception message.
inline std::string LogTail(std::string text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    text.erase(0, text.size() - max_bytes);
    if (const size_t nl = text.find('\n'); nl != std::string::npos) text.erase(0, nl + 1);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return "    (empty)";
  std::string out = "    ";
  for (const char c : text) out += c == '\n' ? std::string("\n    ") : std::string(1, c);
  return out;
}

}  // namespace shopd::testing

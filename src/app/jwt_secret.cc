#include "app/jwt_secret.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/base64url.h"
#include "core/random.h"

namespace shopd::app {
namespace {

constexpr size_t kGeneratedKeyBytes = 32;  // 256 random bits, kept as 43 base64url characters
constexpr off_t kMaxKeyFileBytes = 4096;
// A process that won the O_EXCL race writes its key with one write() right
// after creating the file; another may only see it empty for that moment.
constexpr int kIncompleteRetries = 50;
constexpr auto kIncompleteRetryDelay = std::chrono::milliseconds(20);

core::Error Invalid(std::string message) { return core::Error::Invalid(std::move(message)); }

std::string Errno() { return std::strerror(errno); }

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> DecodeHex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// Standard (+/) or URL-safe (-_) alphabet, with or without '=' padding.
std::optional<std::string> DecodeBase64(std::string_view text) {
  size_t padding = 0;
  while (padding < 2 && !text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  if (padding > 0 && (text.size() + padding) % 4 != 0) return std::nullopt;
  std::string url_safe(text);
  for (char& c : url_safe) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return core::Base64UrlDecode(url_safe);
}

// Opens and checks an existing key file; returns its content without the
// trailing newline (possibly empty or short: the caller decides).
core::Result<std::string> ReadKeyFile(const std::string& path) {
  // O_NOFOLLOW: a link planted at the key path is refused, never followed.
  // O_NONBLOCK: a FIFO planted there cannot stall start-up.
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP)
      return Invalid(path + " is a symbolic link, and shopd never follows one to its signing key: remove it (rm " +
                     path + ") to have a new key generated there, or replace it with a regular file holding the key");
    return Invalid("cannot read " + path + ": " + Errno());
  }
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Invalid("cannot stat " + path + ": " + Errno());
  if (!S_ISREG(st.st_mode))
    return Invalid(path + " is not a regular file: remove it (rm " + path + ") to have a new key generated");
  if (st.st_uid != ::geteuid())
    return Invalid(path + " is owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                   std::to_string(::geteuid()) + " that runs shopd: chown " + std::to_string(::geteuid()) + " " +
                   path);
  if ((st.st_mode & 077) != 0)
    return Invalid(path + " holds the token signing key but is open to group or others (mode " + Octal(st.st_mode) +
                   "): chmod 600 " + path);
  if (st.st_size > kMaxKeyFileBytes)
    return Invalid(path + " is larger than " + std::to_string(kMaxKeyFileBytes) + " bytes, so it is not a key");
  std::string data(static_cast<size_t>(kMaxKeyFileBytes), '\0');
  size_t have = 0;
  while (have < data.size()) {
    ssize_t n = ::read(fd, data.data() + have, data.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Invalid("cannot read " + path + ": " + Errno());
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  data.resize(have);
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) data.pop_back();
  return data;
}

// Fills the file this process just created (O_EXCL) with a fresh key.
core::Result<std::string> WriteNewKey(int fd, const std::string& dir, const std::string& path) {
  const std::string key = core::SecureToken(kGeneratedKeyBytes);
  const std::string line = key + "\n";
  // The umask can only have removed bits; state the mode outright anyway.
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  const std::string why = ok ? "" : Errno();
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());  // ours: created above
    return Invalid("cannot write " + path + ": " + why);
  }
  // So that the new name, not only its content, survives a crash.
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return key;
}

}  // namespace

core::Result<std::string> DecodeJwtSecret(std::string_view value) {
  std::optional<std::string> key;
  if (value.starts_with("base64:")) {
    key = DecodeBase64(value.substr(7));
    if (!key)
      return Invalid("SHOPD_JWT_SECRET: the text after 'base64:' is not valid base64 (RFC 4648, standard or URL-safe "
                     "alphabet, no spaces)");
  } else if (value.starts_with("hex:")) {
    key = DecodeHex(value.substr(4));
    if (!key) return Invalid("SHOPD_JWT_SECRET: the text after 'hex:' is not an even number of hex digits");
  } else {
    key = std::string(value);
  }
  if (key->size() < kMinJwtKeyBytes)
    return Invalid("SHOPD_JWT_SECRET carries " + std::to_string(key->size()) + " bytes of key material; at least " +
                   std::to_string(kMinJwtKeyBytes) +
                   " are required: use 32 random bytes or more, e.g. SHOPD_JWT_SECRET=base64:$(openssl rand -base64 "
                   "32)");
  return std::move(*key);
}

core::Result<std::string> LoadOrCreateJwtSecret(const std::string& dir, std::optional<std::string_view> from_env) {
  if (from_env && !from_env->empty()) return DecodeJwtSecret(*from_env);
  const std::string path = dir + "/jwt_secret";
  // O_EXCL fails on any existing name, a dangling symbolic link included, so
  // nothing planted at the path is ever written through.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) return WriteNewKey(fd, dir, path);
  if (errno != EEXIST) return Invalid("cannot create " + path + ": " + Errno());
  for (int attempt = 0;; ++attempt) {
    auto key = ReadKeyFile(path);
    if (!key) return key.error();
    if (key->size() >= kMinJwtKeyBytes) return key;
    // Only an empty file can be a key being written (it is written at once).
    if (!key->empty() || attempt == kIncompleteRetries)
      return Invalid(path + " holds " + std::to_string(key->size()) + " bytes, not a key of at least " +
                     std::to_string(kMinJwtKeyBytes) + ": remove it (rm " + path +
                     ") to have a new key generated (tokens signed with the old key stop being accepted)");
    std::this_thread::sleep_for(kIncompleteRetryDelay);
  }
}

}  // namespace shopd::app

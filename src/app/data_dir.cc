#include "app/data_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/base64url.h"
#include "core/random.h"

namespace shopd::app {
namespace {

core::Error IoError(const std::string& what) {
  return core::Error::Invalid(what + ": " + std::strerror(errno));
}

core::Result<std::string> ReadSecret(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot read " + path);
  std::string data(256, '\0');
  ssize_t n = ::read(fd, data.data(), data.size());
  ::close(fd);
  if (n <= 0) return core::Error::Invalid(path + " is empty or unreadable");
  data.resize(static_cast<size_t>(n));
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) data.pop_back();
  if (data.size() < 32) return core::Error::Invalid(path + " holds a key shorter than 32 characters");
  return data;
}

}  // namespace

core::Result<void> EnsureDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return core::Error::Invalid("data-dir " + dir + ": " + ec.message());
  if (!std::filesystem::is_directory(dir)) return core::Error::Invalid("data-dir " + dir + " is not a directory");
  ::chmod(dir.c_str(), 0700);  // best effort: an existing shared dir may not be ours to change
  if (::access(dir.c_str(), W_OK) != 0) return IoError("data-dir " + dir + " is not writable");
  return {};
}

core::Result<std::string> LoadOrCreateJwtSecret(const std::string& dir) {
  if (const char* env = std::getenv("SHOPD_JWT_SECRET"); env && *env) {
    std::string secret(env);
    if (secret.size() < 32) return core::Error::Invalid("SHOPD_JWT_SECRET must be at least 32 characters");
    return secret;
  }
  const std::string path = dir + "/jwt_secret";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno != EEXIST) return IoError("cannot create " + path);
    // Another process may be writing it right now; the file appears complete
    // only after rename below, so a short retry loop is enough.
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto s = ReadSecret(path);
      if (s) return s;
      ::usleep(20'000);
    }
    return ReadSecret(path);
  }
  ::close(fd);
  // Write to a temp file and rename over the placeholder, so readers never see a partial key.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const std::string secret = core::SecureToken(32);
  int tfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (tfd < 0) return IoError("cannot create " + tmp);
  const std::string line = secret + "\n";
  bool ok = ::write(tfd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(tfd) == 0;
  ::close(tfd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return IoError("cannot write " + path);
  }
  return secret;
}

}  // namespace shopd::app

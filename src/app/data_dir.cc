#include "app/data_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace shopd::app {
namespace {

core::Error Invalid(std::string message) { return core::Error::Invalid(std::move(message)); }

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// mkdir -p with mode 0700 for every directory it creates (create_directories
// would use 0777 minus the umask).
core::Result<void> MakeDirs(const std::string& dir) {
  std::filesystem::path prefix;
  for (const auto& part : std::filesystem::path(dir)) {
    prefix /= part;
    if (::mkdir(prefix.c_str(), 0700) == 0 || errno == EEXIST) continue;
    return Invalid("data-dir " + dir + ": cannot create " + prefix.string() + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace

core::Result<void> EnsureDataDir(const std::string& dir) {
  if (auto made = MakeDirs(dir); !made) return made;
  struct stat st {};
  // stat, not lstat: a data dir given as a link to a directory is checked where it points.
  if (::stat(dir.c_str(), &st) != 0) return Invalid("data-dir " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return Invalid("data-dir " + dir + " is not a directory");
  const uid_t me = ::geteuid();
  if (st.st_uid != me)
    return Invalid("data-dir " + dir + " is owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                   std::to_string(me) + " that runs shopd: chown " + std::to_string(me) + " " + dir +
                   " (or choose another --data-dir)");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return Invalid("data-dir " + dir + " is writable by group or others (mode " + Octal(st.st_mode) +
                   "), who could replace the database or the signing key: chmod 700 " + dir +
                   " (chmod go-w at least)");
  if (::access(dir.c_str(), W_OK) != 0)
    return Invalid("data-dir " + dir + " is not writable: " + std::strerror(errno));
  return {};
}

}  // namespace shopd::app

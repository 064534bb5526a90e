#include "core/time_format.h"

#include <cstdio>
#include <ctime>

namespace shopd::core {

std::string Rfc3339(int64_t unix_s) {
  time_t t = static_cast<time_t>(unix_s);
  tm utc;
  gmtime_r(&t, &utc);
  char buf[32];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(buf, n);
}

std::string Rfc3339Millis(int64_t unix_ms) {
  std::string s = Rfc3339(unix_ms / 1000);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(unix_ms % 1000));
  s.pop_back();  // the 'Z'
  return s + ms;
}

}  // namespace shopd::core

#include "obs/json_escape.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>

namespace shopd::obs {
namespace {

// Bytes that can be copied into a JSON string as they are.
constexpr std::array<bool, 256> MakePlainTable() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = true;
  t['"'] = false;
  t['\\'] = false;
  return t;
}
constexpr std::array<bool, 256> kPlain = MakePlainTable();

constexpr char kHex[] = "0123456789abcdef";

template <class T>
void AppendChars(std::string& out, T v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

}  // namespace

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const size_t left = s.size() - i;
  const unsigned char b0 = at(i);
  if (b0 < 0x80) return 1;
  auto cont = [&](size_t k) { return (at(k) & 0xc0) == 0x80; };
  if (b0 >= 0xc2 && b0 <= 0xdf) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (left < 3) return 0;
    const unsigned char b1 = at(i + 1);
    const unsigned char lo = b0 == 0xe0 ? 0xa0 : 0x80;  // no overlongs
    const unsigned char hi = b0 == 0xed ? 0x9f : 0xbf;  // no surrogates
    return b1 >= lo && b1 <= hi && cont(i + 2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (left < 4) return 0;
    const unsigned char b1 = at(i + 1);
    const unsigned char lo = b0 == 0xf0 ? 0x90 : 0x80;  // no overlongs
    const unsigned char hi = b0 == 0xf4 ? 0x8f : 0xbf;  // <= U+10FFFF
    return b1 >= lo && b1 <= hi && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    size_t run = i;
    while (run < s.size() && kPlain[static_cast<unsigned char>(s[run])]) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x80) {  // other control characters and DEL
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          out.append(esc, sizeof esc);
        } else if (size_t n = Utf8SequenceLength(s, i); n > 0) {
          out.append(s.data() + i, n);
          i += n;
          continue;
        } else {
          out += "\\ufffd";
        }
    }
    ++i;
  }
  out += '"';
}

std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (size_t n = Utf8SequenceLength(s, i); n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

void AppendJsonInt(std::string& out, int64_t v) { AppendChars(out, v); }
void AppendJsonUint(std::string& out, uint64_t v) { AppendChars(out, v); }

void AppendJsonDouble(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  AppendChars(out, v);
}

void AppendJsonFixed(std::string& out, double v, int decimals) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  if (ec != std::errc()) {  // too large for fixed notation
    AppendChars(out, v);
    return;
  }
  out.append(buf, end);
}

void AppendTimestamp(std::string& out, std::chrono::system_clock::time_point tp) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(tp).time_since_epoch().count();
  const int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const int millis = static_cast<int>(ms - secs * 1000);
  // gmtime_r is the costly part and many lines share a second.
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char cached[20];
  if (secs != cached_secs) {
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    if (std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
      std::memcpy(cached, "0000-00-00T00:00:00", 19);  // year outside 0..9999
    }
    cached_secs = secs;
  }
  out.append(cached, 19);
  const char frac[] = {'.', static_cast<char>('0' + millis / 100),
                       static_cast<char>('0' + millis / 10 % 10),
                       static_cast<char>('0' + millis % 10), 'Z'};
  out.append(frac, sizeof frac);
}

}  // namespace shopd::obs

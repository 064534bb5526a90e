// fuzz: an independent UTF-8 reading (Unicode Table 3-7) for the oracles of
// the serializer targets: what a JSON string must hold after a round trip.
#pragma once

#include <string>
#include <string_view>

namespace shopd::fuzz {

// Length of the well-formed sequence at s[i], 0 if none.
inline size_t WellFormedAt(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const size_t left = s.size() - i;
  auto in = [](unsigned char x, unsigned lo, unsigned hi) { return x >= lo && x <= hi; };
  if (c <= 0x7f) return 1;
  if (in(c, 0xc2, 0xdf)) return left >= 2 && in(b(i + 1), 0x80, 0xbf) ? 2 : 0;
  if (in(c, 0xe0, 0xef)) {
    if (left < 3) return 0;
    unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    return in(b(i + 1), lo, hi) && in(b(i + 2), 0x80, 0xbf) ? 3 : 0;
  }
  if (in(c, 0xf0, 0xf4)) {
    if (left < 4) return 0;
    unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    return in(b(i + 1), lo, hi) && in(b(i + 2), 0x80, 0xbf) && in(b(i + 3), 0x80, 0xbf) ? 4 : 0;
  }
  return 0;
}

inline bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = WellFormedAt(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// `s` with every byte that is not part of a well-formed sequence replaced by
// U+FFFD, the repair the project's serializers promise.
inline std::string Repaired(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = WellFormedAt(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace shopd::fuzz

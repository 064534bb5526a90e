#include "services/users/validation.h"

#include <cctype>
#include <string>

namespace shopd::services {

std::string_view TrimView(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string Trim(std::string_view s) { return std::string(TrimView(s)); }

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string NormalizeEmail(std::string_view email) {
  std::string out = Trim(email);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> CheckEmail(std::string_view e) {
  if (e.empty()) return "is required";
  if (e.size() > kMaxEmailBytes) return "must be at most 254 characters";
  size_t at = e.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= e.size() || e.find('@', at + 1) != std::string_view::npos)
    return "must be an email address like name@example.com";
  std::string_view domain = e.substr(at + 1);
  if (domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos)
    return "must be an email address like name@example.com";
  for (unsigned char c : e)
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == ',' || c == ';' || c == '\\')
      return "contains a character not allowed in an email address";
  return std::nullopt;
}

std::optional<std::string> CheckPassword(std::string_view p) {
  if (p.size() > kMaxPasswordBytes) return "must be at most 128 characters";
  size_t n = Utf8Length(p);
  if (n < 8) return "must be at least 8 characters";
  if (n > 128) return "must be at most 128 characters";
  return std::nullopt;
}

std::optional<std::string> CheckName(std::string_view n) {
  static const std::string kTooLong = "must be at most " + std::to_string(kMaxNameChars) + " characters";
  // A UTF-8 code point is at most 4 bytes: longer input is refused without a scan.
  if (n.size() > 4 * kMaxNameChars) return kTooLong;
  size_t len = Utf8Length(n);
  if (len == 0) return "must not be empty";
  if (len > kMaxNameChars) return kTooLong;
  for (unsigned char c : n)
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  return std::nullopt;
}

}  // namespace shopd::services

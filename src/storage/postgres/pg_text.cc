#include "storage/postgres/pg_text.h"

#include <algorithm>

namespace shopd::storage::postgres {
namespace {

// The length of the character at s[i] if PostgreSQL takes it as UTF-8 text;
// 0 otherwise.
size_t TextCharAt(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead == 0) return 0;
  if (lead < 0x80) return 1;
  // (length, payload bits of the lead byte, smallest code point of that length)
  struct Form {
    size_t n;
    uint32_t bits;
    uint32_t min;
  };
  Form form{};
  if ((lead & 0xE0) == 0xC0) {
    form = {2, lead & 0x1Fu, 0x80};
  } else if ((lead & 0xF0) == 0xE0) {
    form = {3, lead & 0x0Fu, 0x800};
  } else if ((lead & 0xF8) == 0xF0) {
    form = {4, lead & 0x07u, 0x10000};
  } else {
    return 0;
  }
  const size_t n = form.n;
  uint32_t cp = form.bits;
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < form.min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

bool IsText(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = TextCharAt(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string ToText(std::string_view s, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(std::min(s.size(), max_bytes));
  for (size_t i = 0; i < s.size();) {
    const size_t n = TextCharAt(s, i);
    const std::string_view piece = n == 0 ? kReplacement : s.substr(i, n);
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    i += n == 0 ? 1 : n;
  }
  return out;
}

void ArrayLiteral::Add(std::string_view value) {
  Separate();
  text_ += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
}

void ArrayLiteral::Add(int64_t value) {
  Separate();
  text_ += std::to_string(value);
}

void ArrayLiteral::Add(const std::optional<std::string>& value) {
  if (value) return Add(std::string_view(*value));
  Separate();
  text_ += "NULL";
}

std::string ArrayLiteral::Take() {
  text_ += '}';
  return std::move(text_);
}

void ArrayLiteral::Separate() {
  if (text_.size() > 1) text_ += ',';
}

}  // namespace shopd::storage::postgres

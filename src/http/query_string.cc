#include "http/query_string.h"

namespace shopd::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsQueryChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':                                    // unreserved
    case '!': case '$': case '&': case '\'': case '(': case ')': case '*':     // sub-delims
    case '+': case ',': case ';': case '=':
    case ':': case '@': case '/': case '?':
      return true;
    default:
      return false;
  }
}

// Decodes a well-formed component into `out`.
void Decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      out += static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
}

// Compares a well-formed encoded component with a plain name, decoding on the fly.
bool DecodedEquals(std::string_view encoded, std::string_view name) {
  size_t j = 0;
  for (size_t i = 0; i < encoded.size(); ++i, ++j) {
    char c = encoded[i];
    if (c == '%') {
      c = static_cast<char>(HexValue(encoded[i + 1]) * 16 + HexValue(encoded[i + 2]));
      i += 2;
    }
    if (j >= name.size() || name[j] != c) return false;
  }
  return j == name.size();
}

}  // namespace

bool IsWellFormedQuery(std::string_view query) {
  for (size_t i = 0; i < query.size(); ++i) {
    const char c = query[i];
    if (c == '%') {
      if (i + 2 >= query.size()) return false;
      if (HexValue(query[i + 1]) < 0 || HexValue(query[i + 2]) < 0) return false;
      i += 2;
    } else if (!IsQueryChar(c)) {
      return false;
    }
  }
  return true;
}

bool FindQueryParam(std::string_view query, std::string_view name, std::string& out) {
  if (query.empty() || !IsWellFormedQuery(query)) return false;
  while (true) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (!pair.empty() && DecodedEquals(key, name)) {
      if (eq == std::string_view::npos) out.clear();
      else Decode(pair.substr(eq + 1), out);
      return true;
    }
    if (amp == std::string_view::npos) return false;
    query.remove_prefix(amp + 1);
  }
}

}  // namespace shopd::http

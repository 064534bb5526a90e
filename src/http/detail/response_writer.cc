#include "http/detail/response_writer.h"

#include <charconv>

namespace shopd::http::detail {
namespace {

bool SafeHeaderValue(std::string_view v) {
  for (char c : v)
    if (c == '\r' || c == '\n') return false;
  return true;
}

void AppendNumber(std::string& out, size_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

}  // namespace

void AppendResponse(std::string& out, const Response& r, bool head_request, bool close,
                    std::string_view date_line) {
  out += "HTTP/1.1 ";
  AppendNumber(out, static_cast<size_t>(r.status));
  out += ' ';
  out += StatusReason(r.status);
  out += "\r\n";
  out += date_line;
  const bool bodyless_status = r.status == 204 || r.status == 304 || r.status < 200;
  if (!bodyless_status) {
    if (!r.content_type.empty()) {
      out += "Content-Type: ";
      out += r.content_type;
      out += "\r\n";
    }
    out += "Content-Length: ";
    AppendNumber(out, r.body.size());
    out += "\r\n";
  }
  for (const auto& [name, value] : r.headers) {
    if (!SafeHeaderValue(name) || !SafeHeaderValue(value)) continue;  // no header injection
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  for (std::string_view block : r.static_header_blocks) out += block;
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_request && !bodyless_status) out += r.body;
}

}  // namespace shopd::http::detail

#include "http/request.h"

#include "http/detail/raw_request.h"
#include "http/query_string.h"

namespace shopd::http {

void Request::Bind(const Raw* raw, Method method, std::string_view method_text, std::string_view target,
                   std::string_view body, std::string_view remote_ip) {
  raw_ = raw;
  method_ = method;
  method_text_ = method_text;
  target_ = target;
  size_t q = target.find('?');
  path_ = target.substr(0, q);
  query_ = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  body_ = body;
  remote_ip_ = remote_ip;
  client_address_ = client_key_ = remote_ip;
}

std::string_view Request::Header(std::string_view name) const {
  if (!raw_ || !raw_->message) return {};
  const auto& fields = raw_->message->base();
  auto it = fields.find(name);
  if (it == fields.end()) return {};
  return it->value();
}

std::string Request::JoinedHeader(std::string_view name) const {
  std::string out;
  if (!raw_ || !raw_->message) return out;
  auto [first, last] = raw_->message->base().equal_range(name);
  for (auto it = first; it != last; ++it) {
    if (!out.empty()) out += ',';
    out.append(it->value());
  }
  return out;
}

bool Request::QueryParam(std::string_view name, std::string& out) const {
  return FindQueryParam(query_, name, out);
}

}  // namespace shopd::http

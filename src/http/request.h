// http: the request a handler sees. Depends on core.
//
// Views into the connection's parse buffer: valid until the handler's response
// is produced; copy what must outlive it. Beast types stay out of this header
// (the parsed message is reached through an opaque pointer), so services that
// include it compile fast.
//
//   auto id = req.PathParam("id");
//   auto key = req.Header("Idempotency-Key");
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/principal.h"
#include "http/method.h"

namespace shopd::http {

class Request {
 public:
  static constexpr int kMaxPathParams = 4;

  Method method() const { return method_; }
  std::string_view method_text() const { return method_text_; }
  std::string_view target() const { return target_; }  // path + query, as sent
  std::string_view path() const { return path_; }
  std::string_view query() const { return query_; }     // without '?'
  std::string_view body() const { return body_; }
  // The TCP peer. Behind a trusted proxy that is the proxy: use client_address().
  std::string_view remote_ip() const { return remote_ip_; }
  // Who sent the request (see http/client_address.h), and the key rate limits
  // count them under (an IPv6 client by its /64).
  std::string_view client_address() const { return client_address_; }
  std::string_view client_key() const { return client_key_; }
  std::string_view request_id() const { return request_id_; }
  // The matched route's template ("/v1/users/{id}"), or "unmatched".
  std::string_view route() const { return route_; }

  // Case-insensitive header lookup; "" when absent.
  std::string_view Header(std::string_view name) const;
  // Every line of a header that may repeat, joined by "," (RFC 9110 5.3).
  std::string JoinedHeader(std::string_view name) const;
  // A decoded query parameter; nullopt-like empty + false when absent.
  bool QueryParam(std::string_view name, std::string& out) const;

  std::string_view PathParam(std::string_view name) const {
    for (int i = 0; i < n_params_; ++i)
      if (params_[i].first == name) return params_[i].second;
    return {};
  }

  // Monotonic nanoseconds when the request was complete (for latency).
  int64_t start_ns() const { return start_ns_; }
  void SetStartNs(int64_t ns) { start_ns_ = ns; }

  // Filled by the auth step for routes that require it.
  const core::Principal* principal() const { return has_principal_ ? &principal_ : nullptr; }

  // --- set by the server and middleware -------------------------------------
  void SetPrincipal(core::Principal p) {
    principal_ = std::move(p);
    has_principal_ = true;
  }
  void SetRequestId(std::string id) { request_id_ = std::move(id); }
  // Both views must outlive the request; Bind sets both to the peer.
  void SetClient(std::string_view address, std::string_view key) {
    client_address_ = address;
    client_key_ = key;
  }

  // Internal to the http module: binds the request to a parsed message.
  struct Raw;
  void Bind(const Raw* raw, Method method, std::string_view method_text, std::string_view target,
            std::string_view body, std::string_view remote_ip);
  void SetRoute(std::string_view route) { route_ = route; }
  bool AddPathParam(std::string_view name, std::string_view value) {
    if (n_params_ == kMaxPathParams) return false;
    params_[n_params_++] = {name, value};
    return true;
  }
  void ClearPathParams() { n_params_ = 0; }

 private:
  const Raw* raw_ = nullptr;
  Method method_ = Method::kOther;
  std::string_view method_text_;
  std::string_view target_, path_, query_, body_, remote_ip_, client_address_, client_key_;
  std::string_view route_ = "unmatched";
  std::string request_id_;
  std::pair<std::string_view, std::string_view> params_[kMaxPathParams];
  int n_params_ = 0;
  core::Principal principal_;
  bool has_principal_ = false;
  int64_t start_ns_ = 0;
};

}  // namespace shopd::http

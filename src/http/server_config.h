// http: the server's settings, declared and validated here. Depends on config.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config_source.h"
#include "core/error.h"
#include "http/client_address.h"

namespace shopd::http {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 = any free port (see Server::port())
  int threads = 1;
  int64_t max_body_bytes = 1 << 20;
  int64_t max_header_bytes = 16 << 10;
  // Request-body bytes buffered at once across the process's connections; a
  // body that would go over it is refused (503 + Retry-After) before it is read.
  int64_t max_buffered_body_bytes = 256 << 20;
  int64_t header_timeout_ms = 10'000;
  int64_t body_timeout_ms = 30'000;
  int64_t idle_timeout_ms = 60'000;
  int64_t write_timeout_ms = 30'000;
  int64_t drain_timeout_ms = 10'000;
  int64_t max_connections = 10'000;
  // Per client address (an IPv6 client by its /64); trusted proxies are exempt.
  int64_t max_connections_per_address = 1024;
  // Only from these peers is the client address read from `forwarded_header`.
  TrustedProxies trusted_proxies;
  ForwardedHeader forwarded_header = ForwardedHeader::kXForwardedFor;
  std::vector<std::string> cors_origins;
  // A second listener for operational endpoints (/metrics); empty = none.
  std::string admin_host;
  uint16_t admin_port = 0;
  bool has_admin_listener() const { return !admin_host.empty(); }

  static void Declare(config::ConfigSource& src);
  static core::Result<ServerConfig> Load(const config::ConfigSource& src);
};

// "host:port" -> (host, port); "[::1]:80" for IPv6.
core::Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view text);

}  // namespace shopd::http

#include "http/server_config.h"

#include <charconv>
#include <string>
#include <thread>

namespace shopd::http {

void ServerConfig::Declare(config::ConfigSource& src) {
  src.Declare({"listen", "127.0.0.1:8080", "HOST:PORT to listen on"});
  src.Declare({"threads", "0", "reactor threads per process (0 = number of cores)"});
  src.Declare({"max-body-bytes", "1048576", "largest request body accepted (larger: 413)"});
  src.Declare({"max-buffered-body-bytes", "268435456",
               "request-body bytes buffered at once across all connections; over it: 503 + Retry-After"});
  src.Declare({"max-header-bytes", "16384", "largest request header block accepted (larger: 431)"});
  src.Declare({"header-timeout-ms", "10000", "time a client has to send a complete header block"});
  src.Declare({"body-timeout-ms", "30000", "time a client has to send the request body"});
  src.Declare({"idle-timeout-ms", "60000", "keep-alive connections idle this long are closed"});
  src.Declare({"write-timeout-ms", "30000", "time a client has to take a response"});
  src.Declare({"drain-timeout-ms", "10000", "on SIGTERM, time allowed to finish in-flight requests"});
  src.Declare({"max-connections", "10000", "open connections per process; more are refused"});
  src.Declare({"max-connections-per-address", "1024",
               "open connections per client address (IPv6: per /64); more are refused; trusted proxies are exempt"});
  src.Declare({"trusted-proxies", "",
               "comma-separated CIDRs of proxies whose forwarded client address is believed (default: none)"});
  src.Declare({"forwarded-header", "x-forwarded-for",
               "header the trusted proxies write the client address into: x-forwarded-for or forwarded"});
  src.Declare({"cors-origins", "", "comma-separated origins allowed by CORS (default: none)"});
  src.Declare({"admin-listen", "",
               "HOST:PORT of a separate listener for /metrics (default: none, /metrics is on --listen); "
               "when set, the public listener no longer serves /metrics"});
}

core::Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return core::Error::Invalid("listen: expected HOST:PORT, got '" + std::string(text) + "'");
  std::string_view host = text.substr(0, colon), port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535)
    return core::Error::Invalid("listen: bad port '" + std::string(port_text) + "'");
  return std::make_pair(std::string(host), static_cast<uint16_t>(port));
}

core::Result<ServerConfig> ServerConfig::Load(const config::ConfigSource& src) {
  ServerConfig c;
  config::ConfigErrors errs;
  std::string listen;
  errs.Take(src.GetString("listen"), listen);
  if (auto addr = ParseListenAddress(listen)) {
    c.host = addr->first;
    c.port = addr->second;
  } else {
    errs.Add(addr.error().message);
  }
  int64_t threads = 0;
  errs.Take(src.GetInt("threads", 0, 256), threads);
  c.threads = threads == 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))
                           : static_cast<int>(threads);
  errs.Take(src.GetInt("max-body-bytes", 0, int64_t{1} << 30), c.max_body_bytes);
  errs.Take(src.GetInt("max-header-bytes", 1024, 1 << 20), c.max_header_bytes);
  errs.Take(src.GetInt("max-buffered-body-bytes", 1024, int64_t{1} << 40), c.max_buffered_body_bytes);
  if (c.max_buffered_body_bytes < c.max_body_bytes)
    errs.Add("max-buffered-body-bytes: must be at least max-body-bytes (" + std::to_string(c.max_body_bytes) + ")");
  errs.Take(src.GetInt("header-timeout-ms", 10, 3'600'000), c.header_timeout_ms);
  errs.Take(src.GetInt("body-timeout-ms", 10, 3'600'000), c.body_timeout_ms);
  errs.Take(src.GetInt("idle-timeout-ms", 10, 3'600'000), c.idle_timeout_ms);
  errs.Take(src.GetInt("write-timeout-ms", 10, 3'600'000), c.write_timeout_ms);
  errs.Take(src.GetInt("drain-timeout-ms", 0, 3'600'000), c.drain_timeout_ms);
  errs.Take(src.GetInt("max-connections", 1, 10'000'000), c.max_connections);
  errs.Take(src.GetInt("max-connections-per-address", 1, 10'000'000), c.max_connections_per_address);
  std::vector<std::string> proxies;
  errs.Take(src.GetList("trusted-proxies"), proxies);
  if (auto parsed = TrustedProxies::Parse(proxies)) c.trusted_proxies = std::move(*parsed);
  else errs.Add(parsed.error().message);
  std::string forwarded;
  errs.Take(src.GetString("forwarded-header"), forwarded);
  if (forwarded == "forwarded") c.forwarded_header = ForwardedHeader::kForwarded;
  else if (forwarded != "x-forwarded-for")
    errs.Add("forwarded-header: expected x-forwarded-for or forwarded, got '" + forwarded + "'");
  errs.Take(src.GetList("cors-origins"), c.cors_origins);
  std::string admin_listen;
  errs.Take(src.GetString("admin-listen"), admin_listen);
  if (!admin_listen.empty()) {
    if (auto addr = ParseListenAddress(admin_listen)) {
      c.admin_host = addr->first;
      c.admin_port = addr->second;
      // Both listeners set SO_REUSEPORT: on one address the kernel would
      // spread public connections onto the admin listener.
      if (c.admin_port != 0 && c.admin_port == c.port && c.admin_host == c.host)
        errs.Add("admin-listen: must differ from listen (" + listen + ")");
    } else {
      errs.Add("admin-listen: " + addr.error().message);
    }
  }
  if (auto r = errs.Finish(); !r) return r.error();
  return c;
}

}  // namespace shopd::http

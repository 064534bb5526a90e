#include "http/client_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <optional>

namespace shopd::http {
namespace {

using Bytes = std::array<uint8_t, 16>;
constexpr size_t kMaxAddressText = INET6_ADDRSTRLEN;

bool IsMappedV4(const Bytes& b) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b.data(), kPrefix, sizeof kPrefix) == 0;
}

// IPv4 lands as IPv4-mapped IPv6, so one comparison covers both families.
std::optional<Bytes> ParseAddress(std::string_view text) {
  if (text.empty() || text.size() >= kMaxAddressText) return std::nullopt;
  char buf[kMaxAddressText];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  Bytes out{};
  in_addr v4;
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  return true;
}

// "[2001:db8::1]:4711" -> "2001:db8::1", "192.0.2.1:80" -> "192.0.2.1"; a bare
// IPv6 address (several colons) stays whole.
std::string_view StripPort(std::string_view node) {
  if (!node.empty() && node.front() == '[') {
    size_t close = node.find(']');
    return close == std::string_view::npos ? std::string_view{} : node.substr(1, close - 1);
  }
  size_t colon = node.find(':');
  if (colon != std::string_view::npos && node.find(':', colon + 1) == std::string_view::npos)
    return node.substr(0, colon);
  return node;
}

// One element of a Forwarded header (RFC 7239): `for=...;proto=...;by=...`.
std::string_view ForwardedFor(std::string_view element) {
  while (!element.empty()) {
    size_t semi = element.find(';');
    std::string_view pair = Trim(element.substr(0, semi));
    element = semi == std::string_view::npos ? std::string_view{} : element.substr(semi + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || !IEquals(Trim(pair.substr(0, eq)), "for")) continue;
    std::string_view value = Trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return value;
  }
  return {};
}

std::string_view HopAddress(std::string_view element, ForwardedHeader header) {
  std::string_view node = header == ForwardedHeader::kForwarded ? ForwardedFor(element) : Trim(element);
  return StripPort(node);
}

}  // namespace

core::Result<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& cidrs) {
  TrustedProxies out;
  for (const std::string& raw : cidrs) {
    std::string_view text = Trim(raw);
    if (text.empty()) continue;
    size_t slash = text.find('/');
    auto address = ParseAddress(text.substr(0, slash));
    if (!address) return core::Error::Invalid("trusted-proxies: '" + std::string(text) + "' is not an address or CIDR");
    const bool v4 = IsMappedV4(*address) && text.substr(0, slash).find(':') == std::string_view::npos;
    int bits = v4 ? 32 : 128;
    if (slash != std::string_view::npos) {
      std::string_view len = text.substr(slash + 1);
      auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
      if (ec != std::errc{} || end != len.data() + len.size() || bits < 0 || bits > (v4 ? 32 : 128))
        return core::Error::Invalid("trusted-proxies: bad prefix length in '" + std::string(text) + "'");
    }
    Network net;
    net.bytes = *address;
    net.prefix_bits = v4 ? 96 + bits : bits;
    out.networks_.push_back(net);
  }
  return out;
}

bool TrustedProxies::Contains(std::string_view ip) const {
  if (networks_.empty()) return false;
  auto address = ParseAddress(ip);
  if (!address) return false;
  for (const Network& net : networks_) {
    const int whole = net.prefix_bits / 8, rest = net.prefix_bits % 8;
    if (std::memcmp(address->data(), net.bytes.data(), static_cast<size_t>(whole)) != 0) continue;
    if (rest != 0) {
      const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
      if (((*address)[whole] & mask) != (net.bytes[whole] & mask)) continue;
    }
    return true;
  }
  return false;
}

std::string_view ResolveClientAddress(std::string_view peer, std::string_view header_value, ForwardedHeader header,
                                      const TrustedProxies& proxies) {
  if (!proxies.Contains(peer)) return peer;
  std::string_view client = peer;
  std::string_view rest = header_value;
  while (!rest.empty()) {
    size_t comma = rest.rfind(',');
    std::string_view element = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    if (Trim(element).empty()) continue;
    std::string_view hop = HopAddress(element, header);
    if (!ParseAddress(hop)) return client;  // the trusted proxy that wrote it is as far as we can see
    if (!proxies.Contains(hop)) return hop;
    client = hop;
  }
  return client;  // every hop is a trusted proxy: the left-most is the client
}

std::string RateLimitKey(std::string_view ip) {
  auto address = ParseAddress(ip);
  if (!address) return std::string(ip);
  char buf[kMaxAddressText];
  if (IsMappedV4(*address)) {
    if (inet_ntop(AF_INET, address->data() + 12, buf, sizeof buf) == nullptr) return std::string(ip);
    return buf;
  }
  std::fill(address->begin() + 8, address->end(), uint8_t{0});
  if (inet_ntop(AF_INET6, address->data(), buf, sizeof buf) == nullptr) return std::string(ip);
  return std::string(buf) + "/64";
}

}  // namespace shopd::http

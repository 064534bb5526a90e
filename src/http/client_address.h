// http: who the client is. Without trusted proxies it is the TCP peer; behind
// them, the address they forwarded. Also the key that rate limits and the
// per-address connection cap count a client under. Depends on core.
//
//   auto proxies = TrustedProxies::Parse({"10.0.0.0/8", "::1/128"});
//   std::string_view client = ResolveClientAddress(peer, xff, ForwardedHeader::kXForwardedFor, *proxies);
//   std::string key = RateLimitKey(client);   // "2001:db8:1:2::/64" for an IPv6 client
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace shopd::http {

// Which header a trusted proxy writes the client address into. Only that one
// is read: a header the proxy passes through untouched is the client's word.
enum class ForwardedHeader { kXForwardedFor, kForwarded };

class TrustedProxies {
 public:
  // CIDRs ("10.0.0.0/8", "2001:db8::/32") or plain addresses (one host).
  static core::Result<TrustedProxies> Parse(const std::vector<std::string>& cidrs);

  bool empty() const { return networks_.empty(); }
  // `ip` in text form; false for anything that is not an address.
  bool Contains(std::string_view ip) const;

 private:
  struct Network {
    std::array<uint8_t, 16> bytes{};  // IPv4 as IPv4-mapped IPv6
    int prefix_bits = 0;              // of the 128
  };
  std::vector<Network> networks_;
};

// The client address for a request from `peer` carrying `header_value` (all
// lines of the configured header, joined by ","). Walks the hops right to left
// and answers the right-most one not in `proxies`: each trusted proxy appends
// the peer it saw, so hops to the left of the first untrusted one may be
// forged. A hop that is not an address (e.g. `unknown`) stops the walk at the
// proxy that wrote it. A peer that is not trusted is the answer itself. The
// answer views `peer`, `header_value` or nothing else.
std::string_view ResolveClientAddress(std::string_view peer, std::string_view header_value, ForwardedHeader header,
                                      const TrustedProxies& proxies);

// IPv4 (and IPv4-mapped IPv6) addresses as they are; IPv6 by its /64, the
// block one subscriber usually gets, so one client cannot mint 2^64 keys.
// Anything else is returned unchanged.
std::string RateLimitKey(std::string_view ip);

}  // namespace shopd::http

#include "redis/redis_url.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>
#include <limits>

namespace shopd::redis {
namespace {

// Redis' default `databases` is 16, but a server may be configured with more.
constexpr int64_t kMaxDb = std::numeric_limits<int32_t>::max();

core::Error Bad(std::string what) { return core::Error::Invalid("invalid Redis URL: " + std::move(what)); }

bool ParseInt(std::string_view text, int64_t& out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

}  // namespace

std::string RedisEndpoint::Describe() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

core::Result<RedisEndpoint> ParseRedisUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Bad("not a URL (expected redis://[[user]:password@]host[:port][/db])");
  const boost::urls::url_view& u = *parsed;
  if (u.scheme() == "rediss") return Bad("TLS (rediss://) is not supported");
  if (u.scheme() != "redis") return Bad("the scheme must be redis://");
  if (!u.has_authority() || u.encoded_host_address().empty()) return Bad("no host");
  if (u.has_query() || u.has_fragment()) return Bad("query and fragment are not supported");

  RedisEndpoint e;
  e.host = u.host_address();
  if (u.has_port()) {
    int64_t port = 0;
    if (!ParseInt(u.port(), port) || port < 1 || port > 65535) return Bad("the port must be 1-65535");
    e.port = static_cast<uint16_t>(port);
  }
  if (u.has_userinfo()) {
    e.username = u.user();
    if (u.has_password()) e.password = u.password();
    if (!e.username.empty() && e.password.empty()) return Bad("a user needs a password (redis://user:password@...)");
  }
  std::string_view path = u.encoded_path();
  if (!path.empty() && path != "/") {
    int64_t db = 0;
    if (!ParseInt(path.substr(1), db) || db < 0 || db > kMaxDb) return Bad("the path must be a database number (/0)");
    e.db = db;
  }
  return e;
}

}  // namespace shopd::redis

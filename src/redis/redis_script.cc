#include "redis/redis_script.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "redis/redis_client.h"

namespace shopd::redis {
namespace {

std::string Sha1Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha1(), nullptr) != 1)
    throw std::runtime_error("redis: SHA-1 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

std::vector<std::string> EvalShaArgs(const std::string& sha1, const std::vector<std::string>& keys,
                                     const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(sha1);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

RedisScript::RedisScript(std::string source) : source_(std::move(source)), sha1_(Sha1Hex(source_)) {}

boost::asio::awaitable<core::Result<RedisReply>> RedisScript::Run(RedisClient& client, std::vector<std::string> keys,
                                                                  std::vector<std::string> args) const {
  core::Result<RedisReply> r = co_await client.Command(EvalShaArgs(sha1_, keys, args));
  if (!r || !r->IsError() || !r->str.starts_with("NOSCRIPT")) co_return r;
  std::vector<std::string> load{"SCRIPT", "LOAD", source_};
  core::Result<RedisReply> loaded = co_await client.Command(std::move(load));
  if (!loaded) co_return loaded;
  if (loaded->IsError()) co_return loaded;
  if (loaded->str != sha1_) {
    co_return core::Error::Make(core::Errc::kInternal, "internal error",
                                "redis: SCRIPT LOAD named the script " + loaded->str + ", expected " + sha1_);
  }
  co_return co_await client.Command(EvalShaArgs(sha1_, keys, args));
}

}  // namespace shopd::redis

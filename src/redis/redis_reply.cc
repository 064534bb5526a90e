#include "redis/redis_reply.h"

namespace shopd::redis {
namespace {

constexpr size_t kMaxDescribedBytes = 200;

std::string Clip(const std::string& s) {
  return s.size() <= kMaxDescribedBytes ? s : s.substr(0, kMaxDescribedBytes) + "...";
}

}  // namespace

std::string RedisReply::Describe() const {
  switch (type) {
    case Type::kNil:
      return "(nil)";
    case Type::kString:
      return "\"" + Clip(str) + "\"";
    case Type::kStatus:
      return Clip(str);
    case Type::kError:
      return "(error) " + Clip(str);
    case Type::kInteger:
      return "(integer) " + std::to_string(integer);
    case Type::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) out += ", ";
        if (out.size() > kMaxDescribedBytes) {
          out += "...";
          break;
        }
        out += elements[i].Describe();
      }
      return out + "]";
    }
  }
  return "(unknown)";
}

}  // namespace shopd::redis

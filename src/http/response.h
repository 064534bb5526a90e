// http: the response a handler returns. Depends on nothing.
//
// A plain value: status, content type, body and a few extra headers. The
// server serialises it itself (no generic serializer on the hot path).
//
//   return Response::Json(201, body);
//   return Response::Text(200, "OK");
#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shopd::http {

// Constant, pre-formatted header lines ("Name: value\r\n"...) with static
// storage duration, e.g. the security headers every response carries. A fixed
// array, so adding one never allocates.
class StaticHeaderBlocks {
 public:
  static constexpr size_t kMax = 4;
  void push_back(std::string_view block) {
    if (size_ == kMax) throw std::logic_error("more than StaticHeaderBlocks::kMax static header blocks");
    blocks_[size_++] = block;
  }
  const std::string_view* begin() const { return blocks_.data(); }
  const std::string_view* end() const { return blocks_.data() + size_; }
  size_t size() const { return size_; }

 private:
  std::array<std::string_view, kMax> blocks_{};
  size_t size_ = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  StaticHeaderBlocks static_header_blocks;
  bool close = false;  // send `Connection: close` and close after writing

  static Response Json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Response Text(int status, std::string body) {
    Response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    return r;
  }
  static Response Empty(int status) {
    Response r;
    r.status = status;
    r.content_type.clear();
    return r;
  }

  Response& SetHeader(std::string name, std::string value) {
    for (auto& [n, v] : headers)
      if (n == name) {
        v = std::move(value);
        return *this;
      }
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  std::string_view GetHeader(std::string_view name) const {
    for (auto& [n, v] : headers)
      if (n == name) return v;
    for (std::string_view block : static_header_blocks) {
      while (!block.empty()) {
        size_t eol = block.find("\r\n");
        std::string_view line = block.substr(0, eol);
        if (line.size() > name.size() + 1 && line.substr(0, name.size()) == name && line[name.size()] == ':')
          return line.substr(name.size() + 2);
        if (eol == std::string_view::npos) break;
        block.remove_prefix(eol + 2);
      }
    }
    return {};
  }
};

std::string_view StatusReason(int status);

}  // namespace shopd::http

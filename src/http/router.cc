#include "http/router.h"

#include <stdexcept>

namespace shopd::http {
namespace {

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsParam(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

// Matches `path` against a template's segments without allocating.
bool MatchSegments(const Route& r, std::string_view path, Request* req) {
  if (req) req->ClearPathParams();
  size_t i = 0;
  for (const auto& seg : r.segments) {
    while (i < path.size() && path[i] == '/') ++i;
    if (i >= path.size()) return false;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view got = path.substr(i, j - i);
    if (IsParam(seg)) {
      if (req) req->AddPathParam(std::string_view(seg).substr(1, seg.size() - 2), got);
    } else if (got != seg) {
      return false;
    }
    i = j;
  }
  while (i < path.size() && path[i] == '/') ++i;
  return i == path.size();
}

}  // namespace

Route& Router::Add(Method m, std::string_view pattern, SyncHandler h, RouteOptions opts) {
  auto r = std::make_unique<Route>(Route{m, std::string(pattern), {}, std::move(h), {}, opts});
  return AddRoute(std::move(r));
}

Route& Router::Add(Method m, std::string_view pattern, AsyncHandler h, RouteOptions opts) {
  auto r = std::make_unique<Route>(Route{m, std::string(pattern), {}, {}, std::move(h), opts});
  return AddRoute(std::move(r));
}

Route& Router::AddRoute(std::unique_ptr<Route> r) {
  if (r->pattern.empty() || r->pattern[0] != '/')
    throw std::invalid_argument("route pattern must start with '/': " + r->pattern);
  r->segments = Split(r->pattern);
  bool templated = false;
  for (const auto& s : r->segments) templated |= IsParam(s);
  if (templated && r->segments.size() > static_cast<size_t>(Request::kMaxPathParams) * 4)
    throw std::invalid_argument("route too deep: " + r->pattern);
  // "/a/{id}" and "/a/{other}" are the same route: compare with parameters blanked.
  auto shape = [](const std::vector<std::string>& segs) {
    std::vector<std::string> out;
    for (const auto& s : segs) out.push_back(IsParam(s) ? "{}" : s);
    return out;
  };
  for (const auto& existing : routes_)
    if (existing->method == r->method && shape(existing->segments) == shape(r->segments))
      throw std::invalid_argument("duplicate route: " + r->pattern);
  r->index = routes_.size();
  const Route* raw = r.get();
  routes_.push_back(std::move(r));
  if (templated) templated_.push_back(raw);
  else static_[raw->pattern].push_back(raw);
  return *routes_.back();
}

const Route* Router::FindIn(Method m, std::string_view path, Request* req, bool* path_exists) const {
  if (auto it = static_.find(std::string(path)); it != static_.end()) {
    *path_exists = true;
    for (const Route* r : it->second)
      if (r->method == m) return r;
  }
  for (const Route* r : templated_) {
    if (!MatchSegments(*r, path, nullptr)) continue;
    *path_exists = true;
    if (r->method == m) {
      if (req) MatchSegments(*r, path, req);
      return r;
    }
  }
  return nullptr;
}

int64_t Router::BodyLimit(Method m, std::string_view path) const {
  bool exists = false;
  const Route* r = FindIn(m, path, nullptr, &exists);
  return r ? r->options.max_body_bytes : 0;
}

Router::Match Router::Find(Method m, Request& req) const {
  Match match;
  std::string_view path = req.path();
  bool exists = false;
  match.route = FindIn(m, path, &req, &exists);
  if (!match.route && m == Method::kHead) match.route = FindIn(Method::kGet, path, &req, &exists);
  match.path_exists = exists;
  if (!match.route && exists) {
    // Allow lists every method with a route on this exact path.
    bool has_get = false;
    for (const auto& r : routes_) {
      bool dummy = false;
      if (FindIn(r->method, path, nullptr, &dummy) != r.get()) continue;
      if (!match.allow.empty()) match.allow += ", ";
      match.allow += MethodName(r->method);
      has_get |= r->method == Method::kGet;
    }
    if (has_get) match.allow += ", HEAD";
  }
  return match;
}

}  // namespace shopd::http

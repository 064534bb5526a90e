#include "http/problem.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace shopd::http {
namespace {

boost::json::object Parse(const Response& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << r.body;
  return ec ? boost::json::object{} : v.as_object();
}

TEST(Problem, IllFormedUtf8StaysValidJson) {
  Request req;
  req.Bind(nullptr, Method::kGet, "GET", "/", "", "127.0.0.1");
  req.SetRequestId("id\xff");
  core::Error e = core::Error::Invalid("bad \xc3", {{"na\xc0me", "too \xed\xa0\x80long"}}).WithType("sl\x80ug");
  const Response r = ProblemFromError(req, e);
  EXPECT_EQ(r.status, 422);
  const auto o = Parse(r);
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(o.at("type").as_string(), "https://shopd.dev/problems/sl" + fffd + "ug");
  EXPECT_EQ(o.at("detail").as_string(), "bad " + fffd);
  EXPECT_EQ(o.at("request_id").as_string(), "id" + fffd);
  const auto& fe = o.at("errors").as_array().at(0).as_object();
  EXPECT_EQ(fe.at("field").as_string(), "na" + fffd + "me");
  EXPECT_EQ(fe.at("message").as_string(), "too " + fffd + fffd + fffd + "long");
}

TEST(Problem, ValidUtf8IsKept) {
  const Response r = ProblemWithoutRequest(404, "not-found", "no caf\xc3\xa9 \xf0\x9f\x8d\xb5", "r1");
  const auto o = Parse(r);
  EXPECT_EQ(o.at("detail").as_string(), "no caf\xc3\xa9 \xf0\x9f\x8d\xb5");
  EXPECT_EQ(o.at("status").as_int64(), 404);
}

}  // namespace
}  // namespace shopd::http

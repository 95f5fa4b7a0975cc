// The playground's embedded files: the bytes compiled in are the source files' (cmake/embed_files.cmake), each
// answers with its Content-Type, caching and security headers, and an If-None-Match naming its ETag gets a 304.
#include "serve/playground/playground.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "serve/playground/embedded_files.h"
#include "test_util.h"

namespace podserve::playground {
namespace {

std::string header(const http::HttpResponse& res, const std::string& name) {
  for (const auto& [k, v] : res.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(Playground, EmbeddedBytesAreTheSourceFiles) {
  const std::string dir = testing::test_data_dir() + "/../../src/serve/playground/";
  ASSERT_EQ(kEmbeddedFileCount, 4u);
  for (size_t i = 0; i < kEmbeddedFileCount; ++i) {
    const EmbeddedFile& f = kEmbeddedFiles[i];
    const std::string source = testing::read_file(dir + std::string(f.name));
    ASSERT_FALSE(source.empty()) << f.name;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.data), f.size), source) << f.name;
  }
}

TEST(Playground, EachFileHasItsTypeAndHeaders) {
  const std::map<std::string, std::string> types = {{"index.html", "text/html; charset=utf-8"},
                                                    {"playground.js", "text/javascript; charset=utf-8"},
                                                    {"playground.css", "text/css; charset=utf-8"},
                                                    {"favicon.svg", "image/svg+xml"}};
  for (const auto& [name, type] : types) {
    std::optional<http::HttpResponse> res = file_response(name, "");
    ASSERT_TRUE(res.has_value()) << name;
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->content_type, type);
    EXPECT_EQ(header(*res, "Cache-Control"), "no-cache");
    EXPECT_EQ(header(*res, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(header(*res, "ETag").size(), 18u) << "a quoted 16-digit hash";
    // Only the page needs the policy: it governs what the page may load and run.
    EXPECT_EQ(header(*res, "Content-Security-Policy").empty(), name != "index.html") << name;
  }
  EXPECT_NE(header(*file_response("index.html", ""), "Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);
  EXPECT_FALSE(file_response("missing.js", "").has_value());
  EXPECT_FALSE(file_response("", "").has_value());
}

TEST(Playground, MatchingEtagIsNotModified) {
  const std::string etag = header(*file_response("playground.js", ""), "ETag");
  EXPECT_NE(etag, header(*file_response("playground.css", ""), "ETag"));
  for (const std::string& if_none_match : {etag, "W/" + etag, "\"x\", " + etag, std::string("*")}) {
    http::HttpResponse res = *file_response("playground.js", if_none_match);
    EXPECT_EQ(res.status, 304) << if_none_match;
    EXPECT_TRUE(res.body.empty());
    EXPECT_EQ(header(res, "ETag"), etag);
  }
  for (const std::string& if_none_match : {std::string("\"x\""), etag.substr(1), std::string(",")}) {
    EXPECT_EQ(file_response("playground.js", if_none_match)->status, 200) << if_none_match;
  }
}

}  // namespace
}  // namespace podserve::playground

#include "net/http_client.h"

#include <gtest/gtest.h>

namespace podserve::net {
namespace {

TEST(RedactUrl, DropsQueryFragmentAndCredentials) {
  EXPECT_EQ(redact_url("https://user:secret@hub.example/a/b?token=x#frag"), "https://hub.example/a/b");
  EXPECT_EQ(redact_url("http://127.0.0.1:8080/v2/ep/job-take/w1?job_in_progress=0"),
            "http://127.0.0.1:8080/v2/ep/job-take/w1");
  EXPECT_EQ(redact_url("http://host/path@odd"), "http://host/path@odd");  // '@' in the path is not userinfo
}

TEST(HttpClient, ConnectionRefusedIsUnavailableAndNamesTheUrlWithoutQuery) {
  HttpClient client;
  HttpRequest request;
  request.url = "http://127.0.0.1:1/nothing?secret=1";  // port 1: nothing listens there
  request.timeout_s = 5;
  auto response = client.send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(response.status().message().find("http://127.0.0.1:1/nothing"), std::string::npos);
  EXPECT_EQ(response.status().message().find("secret"), std::string::npos);
}

TEST(HttpClient, RejectsNonHttpSchemes) {
  HttpClient client;
  HttpRequest request;
  request.url = "file:///etc/passwd";
  auto response = client.send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace podserve::net

// Router::add_prefix: routes with ids in the path (RunPod's /v2/<endpoint>/status/<job>): exact routes win, the
// longest prefix is taken, and another method on a known prefix is 405.
#include <gtest/gtest.h>

#include "serve/http/router.h"

namespace podserve::http {
namespace {

Handler tagged(int* hit, int tag) {
  return [hit, tag](const HttpRequest&, ResponseWriter&) -> awaitable<void> {
    *hit = tag;
    co_return;
  };
}

TEST(RouterPrefix, ExactRoutesWinThenTheLongestPrefix) {
  int hit = 0;
  Router r;
  r.add("GET", "/v2/health", tagged(&hit, 1));
  r.add_prefix("GET", "/v2/", tagged(&hit, 2));
  r.add_prefix("GET", "/v2/ep/status/", tagged(&hit, 3));
  EXPECT_EQ(r.match("GET", "/v2/health").handler, r.match("GET", "/v2/health/").handler);
  Router::Match exact = r.match("GET", "/v2/health");
  Router::Match shorter = r.match("GET", "/v2/ep/run");
  Router::Match longer = r.match("GET", "/v2/ep/status/abc-123");
  ASSERT_EQ(exact.status, 200);
  ASSERT_EQ(shorter.status, 200);
  ASSERT_EQ(longer.status, 200);
  EXPECT_NE(exact.handler, shorter.handler);
  EXPECT_NE(shorter.handler, longer.handler);
  EXPECT_EQ(r.match("GET", "/other").status, 404);
  EXPECT_EQ(r.match("GET", "/v2").status, 404);  // the prefix itself ends in '/'
}

TEST(RouterPrefix, OtherMethodIs405WithTheAllowedOnes) {
  int hit = 0;
  Router r;
  r.add_prefix("GET", "/v2/", tagged(&hit, 1));
  r.add_prefix("POST", "/v2/", tagged(&hit, 2));
  EXPECT_EQ(r.match("POST", "/v2/ep/run").status, 200);
  Router::Match del = r.match("DELETE", "/v2/ep/run");
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(del.allowed, "GET, POST");
}

}  // namespace
}  // namespace podserve::http

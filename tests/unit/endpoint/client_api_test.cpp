// podserve endpoint's client API routes in process (InProcessRoutes over EndpointService and an in-memory SQLite
// job store). Error answers quote the client's path, which is bytes: they must still be JSON that a strict parser
// (Boost.JSON rejects invalid UTF-8, as Python's json.loads of the decoded body does) reads. Found by the
// endpoint_run fuzzer (its reproducer is in fuzz/regressions/endpoint_run/).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "endpoint/endpoint_service.h"
#include "worker/route_call.h"

namespace podserve::endpoint {
namespace {

TEST(ClientApiTest, ErrorQuotingAPathThatIsNotUtf8IsJson) {
  EndpointConfig config;
  config.job_take_wait_ms = 0;
  auto store = JobStore::open(":memory:");
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  WorkerPool pool(config, **store);
  EndpointService service(config, **store, pool);
  http::Router router;
  service.register_routes(router);
  worker::InProcessRoutes routes(std::move(router), 1);

  worker::RouteCall call = routes.start("POST", "/v2/local/re\xff\xfe\xc3" "brief", "");
  std::vector<worker::RouteEvent> events;
  while (call.next(&events)) {
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].status, 404);
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(events[0].body, ec);
  ASSERT_FALSE(ec) << ec.message() << ": " << events[0].body;
  // Each invalid byte becomes U+FFFD (Python's bytes.decode("utf-8", errors="replace") gives the same).
  EXPECT_EQ(body.at("error").as_string(), "no such operation: POST /v2/local/re\uFFFD\uFFFD\uFFFDbrief");
}

}  // namespace
}  // namespace podserve::endpoint

// The endpoint's durable queue: FIFO takes, leases (renewal, expiry, dead workers), exactly one terminal result,
// stale results refused, cancel/stop signals, timeouts, retry, stream cursors, and a restart of the database.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "endpoint/job_store.h"

namespace podserve::endpoint {
namespace {

constexpr int64_t kLease = 1000;

std::unique_ptr<JobStore> open_memory() {
  auto store = JobStore::open(":memory:");
  EXPECT_TRUE(store.ok()) << store.status().message();
  return std::move(store).value();
}

NewJob job(const std::string& id, int64_t exec_ms = 600000, int64_t ttl_ms = 86400000) {
  NewJob j;
  j.id = id;
  j.input_json = R"({"prompt":")" + id + R"("})";
  j.execution_timeout_ms = exec_ms;
  j.ttl_ms = ttl_ms;
  return j;
}

WorkerResult output(const std::string& json) { return WorkerResult{json, std::nullopt, false}; }

TEST(JobStore, TakesInSubmissionOrderAndLeasesToTheWorker) {
  auto s = open_memory();
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(s->submit(job(id), 100).ok());
  auto first = s->take("w1", 2, 200, kLease);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].id, "a");
  EXPECT_EQ((*first)[1].id, "b");
  EXPECT_EQ((*first)[0].input_json, R"({"prompt":"a"})");
  EXPECT_EQ((*first)[0].status, JobStatus::kInProgress);
  EXPECT_EQ((*first)[0].worker_id, "w1");
  auto second = s->take("w2", 5, 200, kLease);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].id, "c");
  EXPECT_TRUE(s->take("w3", 1, 200, kLease)->empty());
  const JobCounts c = s->counts();
  EXPECT_EQ(c.in_queue, 0);
  EXPECT_EQ(c.in_progress, 3);
  EXPECT_EQ(s->jobs_by_worker()["w1"], 2);
}

TEST(JobStore, ExactlyOneTerminalResultAndOnlyFromTheLeaseHolder) {
  auto s = open_memory();
  ASSERT_TRUE(s->submit(job("a"), 100).ok());
  ASSERT_EQ(s->take("w1", 1, 150, kLease)->size(), 1u);
  EXPECT_FALSE(s->finish("a", "w2", output("1"), 200).ok());  // not its job
  ASSERT_TRUE(s->finish("a", "w1", output(R"({"x":1})"), 300).ok());
  EXPECT_FALSE(s->finish("a", "w1", output("2"), 301).ok());  // already ended
  EXPECT_FALSE(s->finish("missing", "w1", output("2"), 301).ok());
  auto j = s->get("a");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, JobStatus::kCompleted);
  EXPECT_EQ(*j->output_json, R"({"x":1})");
  EXPECT_EQ(j->started_ms - j->created_ms, 50);   // delayTime
  EXPECT_EQ(j->finished_ms - j->started_ms, 150);  // executionTime
}

TEST(JobStore, AnErrorEndsFailedAndProgressIsNotTerminal) {
  auto s = open_memory();
  ASSERT_TRUE(s->submit(job("a"), 0).ok());
  ASSERT_EQ(s->take("w", 1, 0, kLease)->size(), 1u);
  ASSERT_TRUE(s->finish("a", "w", WorkerResult{"\"half\"", std::nullopt, true}, 10).ok());
  EXPECT_EQ(s->get("a")->status, JobStatus::kInProgress);
  EXPECT_EQ(*s->get("a")->output_json, "\"half\"");
  ASSERT_TRUE(s->finish("a", "w", WorkerResult{std::nullopt, std::string("boom"), false}, 20).ok());
  EXPECT_EQ(s->get("a")->status, JobStatus::kFailed);
  EXPECT_EQ(*s->get("a")->error, "boom");
}

TEST(JobStore, ExpiredLeaseRequeuesAndTheStaleResultIsRefused) {
  auto s = open_memory();
  ASSERT_TRUE(s->submit(job("a"), 0).ok());
  ASSERT_TRUE(s->submit(job("b"), 1).ok());
  ASSERT_EQ(s->take("w1", 1, 10, kLease)->size(), 1u);
  ASSERT_TRUE(s->renew("w1", {"a"}, 900, kLease).ok());  // lease now runs to 1900
  ASSERT_EQ(s->sweep(1500, 60000, 60000).value(), 0);
  EXPECT_EQ(s->get("a")->status, JobStatus::kInProgress);
  ASSERT_EQ(s->sweep(2000, 60000, 60000).value(), 1);
  EXPECT_EQ(s->get("a")->status, JobStatus::kInQueue);
  EXPECT_EQ(s->counts().retried, 1);
  // It keeps its place at the head of the queue and runs again elsewhere.
  auto again = s->take("w2", 1, 2100, kLease);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].id, "a");
  EXPECT_EQ((*again)[0].attempts, 2);
  EXPECT_FALSE(s->finish("a", "w1", output("\"late\""), 2200).ok());
  EXPECT_FALSE(s->add_stream_item("a", "w1", "\"late\"", 2200, kLease).ok());
  ASSERT_TRUE(s->finish("a", "w2", output("\"ok\""), 2300).ok());
  EXPECT_EQ(*s->get("a")->output_json, "\"ok\"");
}

TEST(JobStore, ADeadWorkersJobsGoBackAtOnce) {
  auto s = open_memory();
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(s->submit(job(id), 0).ok());
  ASSERT_EQ(s->take("w1", 2, 0, kLease)->size(), 2u);
  ASSERT_EQ(s->take("w2", 1, 0, kLease)->size(), 1u);
  ASSERT_EQ(s->release_worker("w1").value(), 2);
  const JobCounts c = s->counts();
  EXPECT_EQ(c.in_queue, 2);
  EXPECT_EQ(c.in_progress, 1);
}

TEST(JobStore, CancelQueuedAndRunningJobs) {
  auto s = open_memory();
  ASSERT_TRUE(s->submit(job("queued"), 0).ok());
  ASSERT_EQ(s->cancel("queued", 5)->status, JobStatus::kCancelled);
  EXPECT_TRUE(s->take("w", 1, 10, kLease)->empty());
  ASSERT_TRUE(s->submit(job("running"), 20).ok());
  ASSERT_EQ(s->take("w", 1, 30, kLease)->size(), 1u);
  EXPECT_TRUE(s->take_stop_signals("w")->empty());
  ASSERT_EQ(s->cancel("running", 40)->status, JobStatus::kCancelled);
  auto stops = s->take_stop_signals("w");
  ASSERT_EQ(stops->size(), 1u);
  EXPECT_EQ((*stops)[0], "running");
  EXPECT_TRUE(s->take_stop_signals("w")->empty());  // delivered once
  EXPECT_FALSE(s->finish("running", "w", output("1"), 50).ok());
  EXPECT_EQ(s->get("running")->status, JobStatus::kCancelled);
  EXPECT_EQ(s->cancel("running", 60)->status, JobStatus::kCancelled);  // idempotent
  EXPECT_FALSE(s->cancel("nope", 60).ok());
}

TEST(JobStore, ExecutionTimeoutAndTtlEndTimedOutAndRetryRequeues) {
  auto s = open_memory();
  ASSERT_TRUE(s->submit(job("slow", /*exec_ms=*/100), 0).ok());
  ASSERT_TRUE(s->submit(job("stale", 600000, /*ttl_ms=*/500), 0).ok());
  ASSERT_EQ(s->take("w", 1, 10, 100000)->size(), 1u);
  ASSERT_EQ(s->sweep(100, 60000, 60000).value(), 0);
  ASSERT_EQ(s->sweep(111, 60000, 60000).value(), 1);
  EXPECT_EQ(s->get("slow")->status, JobStatus::kTimedOut);
  EXPECT_EQ((*s->take_stop_signals("w"))[0], "slow");
  EXPECT_FALSE(s->finish("slow", "w", output("1"), 120).ok());
  ASSERT_EQ(s->sweep(501, 60000, 60000).value(), 1);
  EXPECT_EQ(s->get("stale")->status, JobStatus::kTimedOut);
  // retry: same id and input, back in the queue; only FAILED / TIMED_OUT jobs.
  auto r = s->retry("slow", 600);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, JobStatus::kInQueue);
  EXPECT_FALSE(r->output_json.has_value());
  ASSERT_EQ(s->take("w", 1, 700, kLease)->size(), 1u);
  ASSERT_TRUE(s->finish("slow", "w", output("2"), 710).ok());
  EXPECT_FALSE(s->retry("slow", 720).ok());
}

TEST(JobStore, StreamPollsReturnItemsSinceTheLastPoll) {
  auto s = open_memory();
  ASSERT_TRUE(s->submit(job("a"), 0).ok());
  ASSERT_EQ(s->take("w1", 1, 0, kLease)->size(), 1u);
  for (const char* item : {"\"x\"", "\"y\"", "\"z\""}) ASSERT_TRUE(s->add_stream_item("a", "w1", item, 1, kLease).ok());
  EXPECT_EQ(s->poll_stream("a")->items, (std::vector<std::string>{"\"x\"", "\"y\"", "\"z\""}));
  EXPECT_TRUE(s->poll_stream("a")->items.empty());
  // The worker dies; the new attempt streams from its first item again, the client only gets what is new.
  ASSERT_EQ(s->release_worker("w1").value(), 1);
  ASSERT_EQ(s->take("w2", 1, 5, kLease)->size(), 1u);
  for (const char* item : {"\"x\"", "\"y\"", "\"z\"", "\"w\""}) {
    ASSERT_TRUE(s->add_stream_item("a", "w2", item, 6, kLease).ok());
  }
  ASSERT_TRUE(s->finish("a", "w2", output(R"(["x","y","z","w"])"), 7).ok());
  auto last = s->poll_stream("a");
  EXPECT_EQ(last->items, (std::vector<std::string>{"\"w\""}));
  EXPECT_EQ(last->job.status, JobStatus::kCompleted);
}

TEST(JobStore, APlainHandlersOutputIsItsOneStreamItem) {
  auto s = open_memory();
  ASSERT_TRUE(s->submit(job("a"), 0).ok());
  ASSERT_EQ(s->take("w", 1, 0, kLease)->size(), 1u);
  ASSERT_TRUE(s->finish("a", "w", output(R"({"r":1})"), 1).ok());
  EXPECT_EQ(s->poll_stream("a")->items, (std::vector<std::string>{R"({"r":1})"}));
  EXPECT_TRUE(s->poll_stream("a")->items.empty());
}

TEST(JobStore, PurgeRemovesOnlyQueuedJobs) {
  auto s = open_memory();
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(s->submit(job(id), 0).ok());
  ASSERT_EQ(s->take("w", 1, 0, kLease)->size(), 1u);
  EXPECT_EQ(s->purge_queue().value(), 2);
  EXPECT_EQ(s->counts().in_progress, 1);
  EXPECT_FALSE(s->get("b").has_value());
}

TEST(JobStore, ResultsAreRemovedAfterRetention) {
  auto s = open_memory();
  NewJob sync = job("s");
  sync.sync = true;
  ASSERT_TRUE(s->submit(job("a"), 0).ok());
  ASSERT_TRUE(s->submit(sync, 0).ok());
  ASSERT_EQ(s->take("w", 2, 0, kLease)->size(), 2u);
  ASSERT_TRUE(s->finish("a", "w", output("1"), 10).ok());
  ASSERT_TRUE(s->finish("s", "w", output("1"), 10).ok());
  ASSERT_TRUE(s->sweep(200, /*retention=*/1000, /*sync retention=*/100).ok());
  EXPECT_TRUE(s->get("a").has_value());
  EXPECT_FALSE(s->get("s").has_value());
  ASSERT_TRUE(s->sweep(1011, 1000, 100).ok());
  EXPECT_FALSE(s->get("a").has_value());
}

TEST(JobStore, WebhooksAreDueOnceTheJobEnds) {
  auto s = open_memory();
  NewJob j = job("a");
  j.webhook = "http://127.0.0.1:9/hook";
  ASSERT_TRUE(s->submit(j, 0).ok());
  EXPECT_TRUE(s->due_webhooks(0).empty());
  ASSERT_EQ(s->take("w", 1, 0, kLease)->size(), 1u);
  ASSERT_TRUE(s->finish("a", "w", output("1"), 1).ok());
  ASSERT_EQ(s->due_webhooks(2).size(), 1u);
  s->webhook_attempted("a", false, false, 100);
  EXPECT_TRUE(s->due_webhooks(50).empty());
  ASSERT_EQ(s->due_webhooks(100).size(), 1u);
  EXPECT_EQ(s->due_webhooks(100)[0].attempts, 1);
  s->webhook_attempted("a", true, false, 0);
  EXPECT_TRUE(s->due_webhooks(1000).empty());
}

TEST(JobStore, JobsSurviveReopeningTheDatabase) {
  char dir[] = "/tmp/podserve-jobstore-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/jobs.db";
  {
    auto s = JobStore::open(path);
    ASSERT_TRUE(s.ok()) << s.status().message();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*s)->submit(job("j" + std::to_string(i)), i).ok());
    ASSERT_EQ((*s)->take("w", 1, 200, kLease)->size(), 1u);
  }
  auto s = JobStore::open(path);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->counts().in_queue, 99);
  EXPECT_EQ((*s)->counts().in_progress, 1);
  auto next = (*s)->take("w2", 1, 300, kLease);
  EXPECT_EQ((*next)[0].id, "j1");
  ASSERT_EQ((*s)->sweep(200 + kLease + 1, 60000, 60000).value(), 1);  // the old lease still expires
  EXPECT_EQ((*s)->get("j0")->status, JobStatus::kInQueue);
  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace podserve::endpoint

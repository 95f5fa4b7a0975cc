// The endpoint's durable queue: FIFO takes, leases (renewal, expiry, dead workers), exactly one terminal result,
// stale results refused, cancel/stop signals, timeouts, retry, stream cursors, and a restart of the database.
// Every test runs on both stores: SQLite in memory, and a real PostgreSQL (a throwaway cluster started once for
// this binary by tests/tools/pg_cluster, with a fresh schema per test). Then what only PostgreSQL has: several
// stores (replicas) on one database claiming concurrently, and concurrent schema creation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>
#include <thread>

#include "endpoint/job_store.h"
#include "endpoint/pg.h"

namespace podserve::endpoint {
namespace {

constexpr int64_t kLease = 1000;

// The cluster for the whole binary: started on first use, stopped at exit.
class PgCluster : public ::testing::Environment {
 public:
  static const std::string& url() { return url_; }
  void SetUp() override {
    char dir[] = "/tmp/podserve-pg-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    FILE* out = popen((std::string(PODSERVE_PG_CLUSTER) + " start " + dir_).c_str(), "r");
    ASSERT_NE(out, nullptr);
    char line[512] = {};
    if (!fgets(line, sizeof line, out)) line[0] = '\0';
    ASSERT_EQ(pclose(out), 0) << "tests/tools/pg_cluster could not start PostgreSQL";
    url_ = line;
    while (!url_.empty() && url_.back() == '\n') url_.pop_back();
    ASSERT_EQ(url_.rfind("postgresql://", 0), 0u) << url_;
  }
  void TearDown() override {
    if (!dir_.empty()) (void)std::system((std::string(PODSERVE_PG_CLUSTER) + " stop " + dir_).c_str());
  }

 private:
  static inline std::string url_;
  std::string dir_;
};
[[maybe_unused]] const auto* const kCluster = ::testing::AddGlobalTestEnvironment(new PgCluster);

enum class Store { kSqlite, kPostgres };

/// Empties the cluster's database: the next PgJobStore::open creates the schema from nothing.
void reset_postgres() {
  auto db = PgConn::connect(PgCluster::url());
  ASSERT_TRUE(db.ok()) << db.status().message();
  ASSERT_TRUE(db->exec("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public").ok());
}

class JobStoreTest : public ::testing::TestWithParam<Store> {
 protected:
  void SetUp() override {
    if (GetParam() == Store::kPostgres) reset_postgres();
  }
  /// A store on an empty database.
  std::unique_ptr<JobStore> open_memory() {
    auto store = JobStore::open(GetParam() == Store::kPostgres ? PgCluster::url() : ":memory:");
    EXPECT_TRUE(store.ok()) << store.status().message();
    return std::move(store).value();
  }
};

NewJob job(const std::string& id, int64_t exec_ms = 600000, int64_t ttl_ms = 86400000) {
  NewJob j;
  j.id = id;
  j.input_json = R"({"prompt":")" + id + R"("})";
  j.execution_timeout_ms = exec_ms;
  j.ttl_ms = ttl_ms;
  return j;
}

WorkerResult output(const std::string& json) { return WorkerResult{json, std::nullopt, false}; }

TEST_P(JobStoreTest, TakesInSubmissionOrderAndLeasesToTheWorker) {
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

TEST_P(JobStoreTest, ExactlyOneTerminalResultAndOnlyFromTheLeaseHolder) {
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

TEST_P(JobStoreTest, AnErrorEndsFailedAndProgressIsNotTerminal) {
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

TEST_P(JobStoreTest, ExpiredLeaseRequeuesAndTheStaleResultIsRefused) {
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

TEST_P(JobStoreTest, ADeadWorkersJobsGoBackAtOnce) {
  auto s = open_memory();
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(s->submit(job(id), 0).ok());
  ASSERT_EQ(s->take("w1", 2, 0, kLease)->size(), 2u);
  ASSERT_EQ(s->take("w2", 1, 0, kLease)->size(), 1u);
  ASSERT_EQ(s->release_worker("w1").value(), 2);
  const JobCounts c = s->counts();
  EXPECT_EQ(c.in_queue, 2);
  EXPECT_EQ(c.in_progress, 1);
}

TEST_P(JobStoreTest, CancelQueuedAndRunningJobs) {
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

TEST_P(JobStoreTest, ExecutionTimeoutAndTtlEndTimedOutAndRetryRequeues) {
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

TEST_P(JobStoreTest, StreamPollsReturnItemsSinceTheLastPoll) {
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

TEST_P(JobStoreTest, APlainHandlersOutputIsItsOneStreamItem) {
  auto s = open_memory();
  ASSERT_TRUE(s->submit(job("a"), 0).ok());
  ASSERT_EQ(s->take("w", 1, 0, kLease)->size(), 1u);
  ASSERT_TRUE(s->finish("a", "w", output(R"({"r":1})"), 1).ok());
  EXPECT_EQ(s->poll_stream("a")->items, (std::vector<std::string>{R"({"r":1})"}));
  EXPECT_TRUE(s->poll_stream("a")->items.empty());
}

TEST_P(JobStoreTest, PurgeRemovesOnlyQueuedJobs) {
  auto s = open_memory();
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(s->submit(job(id), 0).ok());
  ASSERT_EQ(s->take("w", 1, 0, kLease)->size(), 1u);
  EXPECT_EQ(s->purge_queue().value(), 2);
  EXPECT_EQ(s->counts().in_progress, 1);
  EXPECT_FALSE(s->get("b").has_value());
}

TEST_P(JobStoreTest, ResultsAreRemovedAfterRetention) {
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

TEST_P(JobStoreTest, WebhooksAreDueOnceTheJobEnds) {
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
  const auto due = s->due_webhooks(100);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].attempts, 1);
  EXPECT_TRUE(s->due_webhooks(100).empty());  // claimed: one delivery at a time, whichever replica asks
  s->webhook_attempted("a", true, false, 0);
  EXPECT_TRUE(s->due_webhooks(1000).empty());
}

TEST_P(JobStoreTest, JobsSurviveReopeningTheDatabase) {
  char dir[] = "/tmp/podserve-jobstore-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = GetParam() == Store::kPostgres ? PgCluster::url() : std::string(dir) + "/jobs.db";
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
  for (const char* suffix : {"/jobs.db", "/jobs.db-wal", "/jobs.db-shm"}) {
    std::remove((dir + std::string(suffix)).c_str());
  }
  rmdir(dir);
}

INSTANTIATE_TEST_SUITE_P(Stores, JobStoreTest, ::testing::Values(Store::kSqlite, Store::kPostgres),
                         [](const auto& info) { return info.param == Store::kSqlite ? "Sqlite" : "Postgres"; });

// Replicas: stores on one PostgreSQL database, claiming from one queue at once, lease each job exactly once, and
// the numbers every replica reports are the same.
TEST(PgJobStore, ReplicasClaimingConcurrentlyLeaseEachJobOnce) {
  reset_postgres();
  constexpr int kReplicas = 4, kJobs = 400;
  std::vector<std::unique_ptr<JobStore>> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    auto s = JobStore::open(PgCluster::url());
    ASSERT_TRUE(s.ok()) << s.status().message();
    replicas.push_back(std::move(s).value());
  }
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(replicas[i % kReplicas]->submit(job("j" + std::to_string(i)), i).ok());
  }
  std::vector<std::vector<std::string>> taken(kReplicas);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReplicas; ++r) {
    threads.emplace_back([&, r] {
      for (;;) {
        auto jobs = replicas[r]->take("w" + std::to_string(r), 3, 1000, kLease);
        if (!jobs.ok() || jobs->empty()) return;
        for (const Job& j : *jobs) {
          taken[r].push_back(j.id);
          (void)replicas[r]->finish(j.id, "w" + std::to_string(r), output("1"), 1001);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::multiset<std::string> all;
  for (const auto& list : taken) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), static_cast<size_t>(kJobs));
  for (const auto& s : replicas) {
    EXPECT_EQ(s->counts().completed, kJobs);
    EXPECT_EQ(s->counts().in_queue, 0);
  }
}

TEST(PgJobStore, ReplicasStartingTogetherCreateTheSchemaOnce) {
  reset_postgres();
  std::vector<std::thread> threads;
  std::vector<Status> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = JobStore::open(PgCluster::url()).status(); });
  }
  for (auto& t : threads) t.join();
  for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.message();
  auto db = PgConn::connect(PgCluster::url());
  ASSERT_TRUE(db.ok());
  auto v = db->query("SELECT COUNT(*), MAX(version) FROM schema_version");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->int_at(0, 0), 1);
  EXPECT_EQ(v->int_at(0, 1), 2);  // both migrations: the tables, then the NOTIFY triggers
}

TEST(PgJobStore, OnlyOneReplicaSweepsAtATime) {
  reset_postgres();
  auto a = JobStore::open(PgCluster::url());
  auto b = JobStore::open(PgCluster::url());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->submit(job("x"), 0).ok());
  ASSERT_EQ((*a)->take("w", 1, 0, kLease)->size(), 1u);
  // Another session holds the sweep lock (as a replica mid-sweep would): b skips its round, then sweeps after.
  auto holder = PgConn::connect(PgCluster::url());
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE(holder->exec("BEGIN; SELECT pg_advisory_xact_lock(7136250002)").ok());
  EXPECT_EQ((*b)->sweep(kLease + 1, 60000, 60000).value(), 0);
  ASSERT_TRUE(holder->exec("COMMIT").ok());
  EXPECT_EQ((*b)->sweep(kLease + 1, 60000, 60000).value(), 1);
  EXPECT_EQ((*a)->get("x")->status, JobStatus::kInQueue);
}

TEST_P(JobStoreTest, WritesMoveTheChangeCount) {
  auto s = open_memory();
  ASSERT_TRUE(s->submit(job("a"), 0).ok());
  const uint64_t before = s->change_count();
  (void)s->get("a");
  (void)s->counts();
  (void)s->take("w", 1, 0, kLease);
  // The take's change reaches a PostgreSQL store through its listener (NOTIFY), so it may take a moment.
  for (int i = 0; i < 500 && s->change_count() == before; ++i) usleep(10000);
  EXPECT_NE(s->change_count(), before);
}

// A replica hears another replica's writes: the trigger's NOTIFY reaches its LISTEN connection.
TEST(PgJobStore, AReplicaHearsAnotherReplicasWrites) {
  reset_postgres();
  auto a = JobStore::open(PgCluster::url());
  auto b = JobStore::open(PgCluster::url());
  ASSERT_TRUE(a.ok() && b.ok());
  // The listener moves the count once when it starts listening; from then on only changes move it.
  for (int i = 0; i < 500 && (*a)->change_count() == 0; ++i) usleep(10000);
  ASSERT_NE((*a)->change_count(), 0u) << "the listener never connected";
  usleep(200000);
  const uint64_t before = (*a)->change_count();
  usleep(300000);
  EXPECT_EQ((*a)->change_count(), before);  // nothing changed: nothing heard
  ASSERT_TRUE((*b)->submit(job("x"), 0).ok());
  for (int i = 0; i < 500 && (*a)->change_count() == before; ++i) usleep(10000);
  EXPECT_NE((*a)->change_count(), before);
}

TEST(PgJobStore, ALostConnectionIsAnErrorThenReconnects) {
  reset_postgres();
  auto s = JobStore::open(PgCluster::url());
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_TRUE((*s)->submit(job("before"), 0).ok());
  // The server ends the store's session (as a restart or failover of the database would), and waits until it is gone.
  auto admin = PgConn::connect(PgCluster::url());
  ASSERT_TRUE(admin.ok());
  auto killed = admin->query("SELECT COUNT(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE pid <> "
                             "pg_backend_pid() AND datname = current_database()");
  ASSERT_TRUE(killed.ok()) << killed.status().message();
  ASSERT_GE(killed->int_at(0, 0), 1);
  const Status lost = (*s)->submit(job("during"), 1);
  EXPECT_EQ(lost.code(), StatusCode::kUnavailable) << lost.message();
  // The next call reconnects; what was committed is there, what failed is not.
  ASSERT_TRUE((*s)->submit(job("after"), 2).ok());
  EXPECT_TRUE((*s)->get("before").has_value());
  EXPECT_FALSE((*s)->get("during").has_value());
  EXPECT_EQ((*s)->counts().in_queue, 2);
}

TEST(PgJobStore, AnUnreachableDatabaseIsAClearError) {
  auto s = JobStore::open("postgresql://nobody:secret@/none?host=/nonexistent-dir");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("Cannot connect to the job database"), std::string::npos);
  EXPECT_EQ(s.status().message().find("secret"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace podserve::endpoint

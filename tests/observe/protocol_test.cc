#include "observe/protocol.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <sstream>

namespace rusm::observe {
namespace {

using nlohmann::json;

TEST(Protocol, ParsesEveryCommand) {
  auto run = parse_command(R"({"type":"run","id":7,"scenario":"spawn-storm","duration":2})");
  ASSERT_TRUE(run) << run.error().message();
  EXPECT_EQ(run->kind, CommandKind::kRun);
  EXPECT_EQ(run->scenario, "spawn-storm");
  EXPECT_EQ(run->duration_s, 2);
  EXPECT_EQ(run->threads, 0u);
  EXPECT_EQ(run->id, 7);

  auto kill = parse_command(R"({"type":"kill","pid":"<0.12.3>"})");
  ASSERT_TRUE(kill) << kill.error().message();
  EXPECT_EQ(kill->kind, CommandKind::kKill);
  EXPECT_EQ(kill->pid.slot(), 12u);
  EXPECT_EQ(kill->pid.generation(), 3u);
  EXPECT_TRUE(kill->id.is_null());

  EXPECT_EQ(parse_command(R"({"type":"stop"})")->kind, CommandKind::kStop);
  EXPECT_EQ(parse_command(R"({"type":"ping","id":"a"})")->kind, CommandKind::kPing);
  EXPECT_EQ(parse_command(R"({"type":"subscribe","topic":"processes"})")->kind,
            CommandKind::kSubscribe);
  EXPECT_EQ(parse_command(R"({"type":"unsubscribe","topic":"processes"})")->kind,
            CommandKind::kUnsubscribe);
  EXPECT_EQ(parse_command(R"({"type":"process_info","pid":"<0.1.1>"})")->kind,
            CommandKind::kProcessInfo);
}

TEST(Protocol, PidRoundTrips) {
  otp::Pid p = otp::Pid::make(3, 77, 123456);
  auto q = parse_pid(p.to_string());
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(*q, p);
}

// Each malformed message gets an error naming the problem.
TEST(Protocol, MalformedMessagesGetClearErrors) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"", "not JSON"},
      {"{", "not JSON"},
      {"{\"type\":", "not JSON"},
      {"\xff\xfe", "not JSON"},
      {"[1,2]", "must be a JSON object"},
      {"42", "must be a JSON object"},
      {"{}", "missing field 'type'"},
      {R"({"type":5})", "field 'type' must be a string"},
      {R"({"type":"launch"})", "unknown command type 'launch'"},
      {R"({"type":"run"})", "missing field 'scenario'"},
      {R"({"type":"run","scenario":""})", "must not be empty"},
      {R"({"type":"run","scenario":"x","duration":"2"})", "field 'duration' must be a number"},
      {R"({"type":"run","scenario":"x","duration":-1})", "in [0.1, 600]"},
      {R"({"type":"run","scenario":"x","duration":1e308})", "in [0.1, 600]"},
      {R"({"type":"run","scenario":"x","threads":1.5})", "whole number"},
      {R"({"type":"kill"})", "missing field 'pid'"},
      {R"({"type":"kill","pid":12})", "field 'pid' must be a string"},
      {R"({"type":"kill","pid":"<0.1>"})", "bad pid"},
      {R"({"type":"kill","pid":"<0.1.2.3>"})", "bad pid"},
      {R"({"type":"kill","pid":"<0.99999999.1>"})", "bad pid"},
      {R"({"type":"kill","pid":"<0.0.0>"})", "bad pid"},
      {R"({"type":"kill","pid":"<-1.2.3>"})", "bad pid"},
      {R"({"type":"subscribe","topic":"everything"})", "unknown topic"},
      {R"({"type":"ping","id":[1]})", "field 'id'"},
  };
  for (const Case& c : cases) {
    auto r = parse_command(c.text);
    ASSERT_FALSE(r) << "accepted: " << c.text;
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos)
        << "for " << c.text << " got: " << r.error().message();
  }
  std::string huge = R"({"type":"ping","pad":")" + std::string(kMaxCommandBytes, 'x') + "\"}";
  auto r = parse_command(huge);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("too long"), std::string::npos);
}

Snapshot sample_snapshot() {
  Snapshot s;
  s.seq = 3;
  s.t_s = 1.5;
  s.stats.spawns = 10;
  s.stats.exits_normal = 4;
  s.stats.exits_killed = 1;
  s.stats.processes = 5;
  s.stats.workers.resize(2);
  s.stats.workers[1].busy_ns = 2'500'000'000;
  s.stats.workers[1].run_queue_length = 3;
  s.worker_load = {0.25, 1.0};
  s.rss_bytes = 1 << 20;
  s.has_table = true;
  otp::ProcessInfo p;
  p.pid = otp::Pid::make(0, 1, 4);
  p.label = "worker \"a\"";
  p.status = otp::ProcessStatus::kWaiting;
  p.reductions = 99;
  s.table.push_back(p);
  s.status.waiting = 1;
  return s;
}

TEST(Protocol, SnapshotJsonHasTheDocumentedFields) {
  json j = snapshot_json(sample_snapshot(), true);
  EXPECT_EQ(j["type"], "snapshot");
  EXPECT_EQ(j["processes"], 5);
  EXPECT_EQ(j["totals"]["exits"]["killed"], 1);
  EXPECT_EQ(j["workers"].size(), 2u);
  EXPECT_EQ(j["workers"][1]["run_queue"], 3);
  EXPECT_EQ(j["table"].size(), 1u);
  EXPECT_EQ(j["table"][0]["pid"], "<0.4.1>");
  EXPECT_EQ(j["table"][0]["status"], "waiting");
  EXPECT_EQ(j["status"]["waiting"], 1);
  json without = snapshot_json(sample_snapshot(), false);
  EXPECT_FALSE(without.contains("table"));
}

TEST(Protocol, ClusterNodesOnlyWhenInACluster) {
  EXPECT_FALSE(snapshot_json(sample_snapshot(), false).contains("cluster"));
  Snapshot s = sample_snapshot();
  s.has_cluster = true;
  s.node_name = "n1";
  s.node_id = 7;
  s.peers = {{.name = "n2",
              .id = 9,
              .address = "10.0.0.2:4370",
              .up = true,
              .bytes_in = 100,
              .bytes_out = 50},
             {.name = "n3", .id = 11, .address = "10.0.0.3:4370", .up = false}};
  s.peer_in_bytes_per_s = {12.5, 0};
  s.peer_out_bytes_per_s = {3, 0};
  json j = snapshot_json(s, false)["cluster"];
  EXPECT_EQ(j["self"]["name"], "n1");
  EXPECT_EQ(j["self"]["id"], 7);
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0]["name"], "n2");
  EXPECT_EQ(j["nodes"][0]["up"], true);
  EXPECT_EQ(j["nodes"][0]["bytes_in"], 100);
  EXPECT_EQ(j["nodes"][0]["in_bytes_per_s"], 12.5);
  EXPECT_EQ(j["nodes"][0]["out_bytes_per_s"], 3.0);
  EXPECT_EQ(j["nodes"][1]["address"], "10.0.0.3:4370");
  EXPECT_EQ(j["nodes"][1]["up"], false);
}

TEST(Protocol, TableIsCappedBusiestFirst) {
  Snapshot s = sample_snapshot();
  s.table.clear();
  for (int i = 1; i <= 10; ++i) {
    otp::ProcessInfo p;
    p.pid = otp::Pid::make(0, 1, i);
    p.reductions = i;
    s.table.push_back(p);
  }
  json j = snapshot_json(s, true, 3);
  ASSERT_EQ(j["table"].size(), 3u);
  EXPECT_EQ(j["table_total"], 10);
  EXPECT_EQ(j["table"][0]["reductions"], 10);
}

// Every non-comment line is `name{labels} value`, every metric has HELP and
// TYPE before its samples, and the counters carry their values.
TEST(Protocol, PrometheusTextFormat) {
  Histogram h;
  for (uint64_t v : {1000u, 2000u, 3000u, 1000000u}) {
    h.record(v);
  }
  std::string text = format_prometheus(
      sample_snapshot(), {{"rusm_bench_latency_seconds", "Latency.",
                           "metric=\"" + prometheus_escape("a\"b") + "\"", h.snapshot()}});
  std::istringstream in(text);
  std::string line;
  std::set<std::string> typed;
  int samples = 0;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream l(line.substr(7));
      std::string name, type;
      l >> name >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      typed.insert(name);
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) {
      continue;
    }
    ASSERT_NE(line[0], '#') << line;
    size_t name_end = line.find_first_of("{ ");
    std::string name = line.substr(0, name_end);
    std::string base = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!typed.count(base) && base.size() > strlen(suffix) &&
          base.compare(base.size() - strlen(suffix), strlen(suffix), suffix) == 0) {
        base = base.substr(0, base.size() - strlen(suffix));
      }
    }
    EXPECT_TRUE(typed.count(base)) << "sample before its TYPE: " << line;
    size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos);
    char* end = nullptr;
    std::string value = line.substr(space + 1);
    std::strtod(value.c_str(), &end);
    EXPECT_TRUE(*end == '\0' || value == "+Inf") << "bad value in: " << line;
    ++samples;
  }
  EXPECT_GT(samples, 20);
  EXPECT_NE(text.find("rusm_spawns_total 10\n"), std::string::npos);
  EXPECT_NE(text.find("rusm_exits_total{reason=\"killed\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("rusm_run_queue_length{worker=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("rusm_scheduler_busy_seconds_total{worker=\"1\"} 2.5\n"), std::string::npos);
  EXPECT_NE(text.find("rusm_bench_latency_seconds_count{metric=\"a\\\"b\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("rusm_bench_latency_seconds_bucket{metric=\"a\\\"b\",le=\"+Inf\"} 4\n"),
            std::string::npos);
}

}  // namespace
}  // namespace rusm::observe

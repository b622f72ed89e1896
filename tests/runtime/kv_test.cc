// The key-value calls from Wasm processes (guests/t_kv.c; docs/kv.md): every
// call against a real store, the bucket grants and their attenuation, no
// lost increment between concurrent processes, and, through `rusm run`, the
// durability promise: a node killed with SIGKILL in a write storm keeps
// every write it acknowledged, none torn.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "rusm/kv/store.h"
#include "rusm/runtime/runtime.h"

namespace rusm::runtime {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using otp::Message;
using otp::Pid;
using otp::Probe;

std::string guest(const char* name) {
  return std::string(RUSM_RT_GUESTS) + "/" + name;
}

fs::path scratch(const char* what) {
  fs::path p = fs::temp_directory_path() / ("rusm-kvrt-" + std::to_string(::getpid()) + "-" + what);
  fs::remove_all(p);
  return p;
}

class KvRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch(::testing::UnitTest::GetInstance()->current_test_info()->name());
    RuntimeOptions o;
    o.node.workers = 2;
    o.kv.path = dir_ / "kv.db";
    rt_ = std::make_unique<Runtime>(o);
    ASSERT_TRUE(rt_->load_file("t_kv", guest("t_kv.wasm")).is_ok());
    probe_ = std::make_unique<Probe>(rt_->node());
  }
  void TearDown() override {
    probe_.reset();
    rt_.reset();
    fs::remove_all(dir_);
  }
  // A sandboxed process granted what `allow` names.
  ProcessSpec spec(std::string fn, std::vector<uint64_t> args,
                   std::initializer_list<const char*> allow) {
    ProcessSpec s;
    s.module = "t_kv";
    s.function = std::move(fn);
    s.args = std::move(args);
    s.caps = *profile("sandboxed");
    for (const char* a : allow) {
      EXPECT_TRUE(runtime::allow(s.caps, a)) << a;
    }
    return s;
  }
  std::string receive_text() {
    auto m = probe_->receive_if([](const Message& m) { return m.tag() == 1; }, 20s);
    return m ? std::string(m->text()) : "(nothing within 20 s)";
  }

  fs::path dir_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<Probe> probe_;
};

TEST_F(KvRuntimeTest, EveryCallWorksOnAGrantedBucket) {
  ASSERT_TRUE(rt_->spawn(spec("all", {probe_->pid().bits()}, {"kv:app", "kv:shared:ro"})));
  EXPECT_EQ(receive_text(), "ok");
  // What the guest committed is in the store.
  auto store = rt_->kv_store();
  ASSERT_TRUE(store) << store.message();
  EXPECT_EQ((*store)->call(kv::Request::get("app", "n")).value, "42");
  EXPECT_EQ((*store)->call(kv::Request::get("app", "x")).value, "1");
}

TEST_F(KvRuntimeTest, BucketsNotGrantedAreRefused) {
  ASSERT_TRUE(rt_->spawn(spec("denied", {probe_->pid().bits()}, {"kv:other"})));
  EXPECT_EQ(receive_text(), "denied");
  ASSERT_TRUE(rt_->spawn(spec("denied", {probe_->pid().bits()}, {})));
  EXPECT_EQ(receive_text(), "denied") << "no kv capability at all";
  ASSERT_TRUE(rt_->spawn(spec("denied", {probe_->pid().bits()}, {"kv:*"})));
  EXPECT_EQ(receive_text(), "granted") << "kv:* grants every bucket";
}

TEST_F(KvRuntimeTest, ConcurrentProcessesLoseNoIncrement) {
  constexpr int kProcs = 16, kEach = 25;
  for (int i = 0; i < kProcs; ++i) {
    ASSERT_TRUE(rt_->spawn(spec("count", {probe_->pid().bits(), kEach}, {"kv:app"})));
  }
  for (int i = 0; i < kProcs; ++i) {
    ASSERT_EQ(receive_text(), "counted");
  }
  auto store = rt_->kv_store();
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->call(kv::Request::get("app", "hits")).value, std::to_string(kProcs * kEach));
  EXPECT_LT((*store)->stats().commits, static_cast<uint64_t>(kProcs * kEach))
      << "waiting processes should share commits";
}

// The Rust SDK's conformance guest (guests/t_rust.rs, guest/rust/rusm):
// messages, selective receive, links, monitors, the registry and the store
// through the crate's safe API.
TEST_F(KvRuntimeTest, TheRustSdkConformanceGuestPasses) {
  ASSERT_TRUE(rt_->load_file("t_rust", guest("t_rust.wasm")).is_ok());
  ProcessSpec s = spec("all", {probe_->pid().bits()}, {"spawn", "registry", "kv:app"});
  s.module = "t_rust";
  ASSERT_TRUE(rt_->spawn(s));
  EXPECT_EQ(receive_text(), "ok");
}

TEST(KvCapabilities, GrantsNarrowToChildrenAndNeverWiden) {
  Capabilities parent = *profile("sandboxed");
  ASSERT_TRUE(allow(parent, "kv:a"));
  ASSERT_TRUE(allow(parent, "kv:b:ro"));
  EXPECT_EQ(parent.kv_access("a"), KvAccess::kReadWrite);
  EXPECT_EQ(parent.kv_access("b"), KvAccess::kRead);
  EXPECT_EQ(parent.kv_access("c"), KvAccess::kNone);

  Capabilities child = *profile("sandboxed");
  ASSERT_TRUE(allow(child, "kv:*"));
  ASSERT_TRUE(allow(child, "kv:c"));
  Capabilities got = child.restricted_to(parent);
  EXPECT_EQ(got.kv_access("a"), KvAccess::kReadWrite);
  EXPECT_EQ(got.kv_access("b"), KvAccess::kRead) << "read-only stays read-only";
  EXPECT_EQ(got.kv_access("c"), KvAccess::kNone) << "a child never gets a bucket its parent lacks";

  Capabilities ro_child = *profile("sandboxed");
  ASSERT_TRUE(allow(ro_child, "kv:a:ro"));
  EXPECT_EQ(ro_child.restricted_to(parent).kv_access("a"), KvAccess::kRead);

  Capabilities no_bit = parent;
  no_bit.bits &= ~kCapKv;
  EXPECT_EQ(no_bit.restricted_to(parent).kv_access("a"), KvAccess::kNone);

  Capabilities bad;
  EXPECT_FALSE(allow(bad, "kv"));
  EXPECT_FALSE(allow(bad, "kv:"));
  EXPECT_FALSE(allow(bad, "kv:a:b"));
  EXPECT_EQ(profile("trusted")->kv_access("anything"), KvAccess::kReadWrite);
}

// Reads the child's stdout until `want` "ack " lines came or it ended; all
// the acknowledged keys.
std::set<std::string> read_acks(int fd, size_t want, std::string& other) {
  std::set<std::string> acks;
  std::string buf;
  char chunk[4096];
  while (acks.size() < want) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) {
      break;
    }
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (line.starts_with("ack ")) {
        acks.insert(line.substr(4));
      } else {
        other += line + "\n";
      }
    }
  }
  return acks;
}

// The value t_kv.c's storm writes for key "w<id>/<i>".
std::string storm_value(const std::string& key) {
  unsigned id = 0, i = 0;
  EXPECT_EQ(std::sscanf(key.c_str(), "w%u/%u", &id, &i), 2) << key;
  uint32_t x = id * 2654435761u ^ (i + 1) * 40503u;
  std::string out(1000, '\0');
  for (char& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>('a' + (x >> 16) % 26);
  }
  return out;
}

TEST(KvDurability, EveryAcknowledgedWriteSurvivesSigkill) {
  fs::path dir = scratch("durability");
  fs::create_directories(dir);
  std::string db = (dir / "kv.db").string();
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    std::string wasm = guest("t_kv.wasm");
    ::execl(RUSM_BINARY, RUSM_BINARY, "run", wasm.c_str(), "--entry", "storm_main", "--allow",
            "spawn", "--allow", "kv:storm", "--kv", db.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string other;
  std::set<std::string> acks = read_acks(out[0], 1500, other);
  ASSERT_GE(acks.size(), 1500u) << "the storm did not get going; its output:\n" << other;
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  // Acks already printed when the node died count too.
  std::set<std::string> late = read_acks(out[0], SIZE_MAX, other);
  acks.insert(late.begin(), late.end());
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the node ended before it was killed:\n" << other;

  kv::StoreOptions o;
  o.path = db;
  auto store = kv::Store::open(o);
  ASSERT_TRUE(store) << store.message();
  for (const std::string& key : acks) {
    kv::Reply r = (*store)->call(kv::Request::get("storm", key));
    ASSERT_EQ(r.code, kv::Code::kOk) << "acknowledged write " << key << " is lost";
    ASSERT_EQ(r.value, storm_value(key)) << "acknowledged write " << key << " is torn";
  }
  // Nothing in the store is torn either, acknowledged or not.
  size_t present = 0;
  kv::Request list;
  list.op = kv::Request::Op::kList;
  list.bucket = "storm";
  list.with_values = true;
  for (;;) {
    kv::Reply page = (*store)->call(list);
    ASSERT_EQ(page.code, kv::Code::kOk);
    for (const auto& [key, value] : page.entries) {
      ASSERT_EQ(value, storm_value(key)) << key << " is torn";
    }
    present += page.entries.size();
    if (!page.more) {
      break;
    }
    list.after = page.entries.back().first;
  }
  EXPECT_GE(present, acks.size());
  std::printf("%zu writes acknowledged before SIGKILL, %zu in the store after\n", acks.size(),
              present);
  store->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rusm::runtime

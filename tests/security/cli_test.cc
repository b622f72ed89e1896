// Attacks on the `rusm` command line: module paths that are not module
// files, sizes and thread counts that make no sense, directory specs with
// unknown modes. Each must end in exit status 2 and one line on stderr that
// names the flag or the file, before anything is started or read.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "child.h"

namespace rusm::security {
namespace {

using ms = std::chrono::milliseconds;

const std::string kRusm = RUSM_BINARY;
const std::string kGuests = RUSM_SECURITY_GUEST_DIR;

struct Outcome {
  std::optional<int> status;  // nullopt: still running after the timeout (killed)
  std::string out, err;
};

Outcome rusm(std::vector<std::string> args, ms timeout = ms(20000)) {
  args.insert(args.begin(), kRusm);
  auto c = Child::spawn(args);
  EXPECT_NE(c, nullptr);
  if (!c) {
    return {};
  }
  std::optional<int> st = c->wait(timeout);
  return {st, c->out(), c->err()};
}

// Exit status 2 and exactly one line on stderr that contains `needle`.
void expect_usage_error(const Outcome& o, const std::string& needle) {
  ASSERT_TRUE(o.status.has_value())
      << "still running after the timeout (killed); stderr: " << o.err.substr(0, 300);
  EXPECT_EQ(*o.status, 2) << "stderr: " << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << "not one line: " << o.err;
  EXPECT_TRUE(o.err.starts_with("rusm")) << o.err;
  EXPECT_NE(o.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << o.err;
}

std::string temp_dir() {
  char tmpl[] = "/tmp/rusm-cli-test-XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

TEST(Cli, RunRefusesADirectoryAsTheModule) {
  expect_usage_error(rusm({"run", temp_dir()}), "is a directory");
}

TEST(Cli, WasmInspectRefusesADirectory) {
  expect_usage_error(rusm({"wasm", "inspect", temp_dir()}), "is a directory");
}

TEST(Cli, WasmInvokeRefusesADirectory) {
  expect_usage_error(rusm({"wasm", "invoke", temp_dir(), "f"}), "is a directory");
}

// Before: no limiter, so 200 tables of 10M entries asked the host for 16 GB
// at instantiation (mimalloc aborts when that fails). Now refused by the cap
// on memories and tables together (--max-memory, default 1G).
TEST(Cli, WasmInvokeRefusesTablesPastItsMemoryCap) {
  Outcome o = rusm({"wasm", "invoke", kGuests + "/tables_200x10m.wasm", "_start"});
  ASSERT_TRUE(o.status.has_value()) << "still running after the timeout";
  EXPECT_EQ(*o.status, 1) << o.err;
  EXPECT_NE(o.err.find("refused by the resource limiter"), std::string::npos) << o.err;
  Outcome small =
      rusm({"wasm", "invoke", kGuests + "/tables_200x10m.wasm", "_start", "--max-memory", "1M"});
  ASSERT_TRUE(small.status.has_value());
  EXPECT_EQ(*small.status, 1) << small.err;
  EXPECT_NE(small.err.find("table 0 of 10000000 elements"), std::string::npos) << small.err;
}

TEST(Cli, WasmInvokeChecksMaxMemory) {
  expect_usage_error(
      rusm({"wasm", "invoke", kGuests + "/tables_200x10m.wasm", "_start", "--max-memory", "nan"}),
      "--max-memory 'nan'");
}

// Before: read /dev/zero until memory ran out. The timeout is short because
// the old code's memory grows quickly while it runs.
TEST(Cli, RunRefusesADeviceInsteadOfReadingItForever) {
  expect_usage_error(rusm({"run", "/dev/zero"}, ms(2000)), "character device");
}

TEST(Cli, WasmInspectRefusesADevice) {
  expect_usage_error(rusm({"wasm", "inspect", "/dev/zero"}, ms(2000)), "character device");
}

TEST(Cli, RunRefusesAFifoWithoutBlocking) {
  std::string fifo = temp_dir() + "/m.wasm";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_usage_error(rusm({"run", fifo}, ms(5000)), "FIFO");
}

// Before: nan, inf and 1e30p silently meant 4 GiB and 0.5p meant 0 pages;
// the module ran.
TEST(Cli, MaxMemoryRefusesNanInfHugeAndFractionalPages) {
  std::string ok = kGuests + "/cli_exit0.wasm";
  ASSERT_EQ(rusm({"run", ok}).status, 0) << "the guest itself must run";
  for (const char* bad :
       {"nan", "inf", "-inf", "1e30p", "0.5p", "0", "-1M", "5G", "1K", "64Q", "M", "0x10p"}) {
    SCOPED_TRACE(bad);
    expect_usage_error(rusm({"run", ok, "--max-memory", bad}), "--max-memory");
  }
  for (const char* good : {"64M", "1G", "4G", "16p", "65536p", "1.5M", "128K"}) {
    SCOPED_TRACE(good);
    EXPECT_EQ(rusm({"run", ok, "--max-memory", good}).status, 0);
  }
}

// Before: started as many threads as asked.
TEST(Cli, WorkersAreCapped) {
  std::string ok = kGuests + "/cli_exit0.wasm";
  expect_usage_error(rusm({"run", ok, "--workers", "5000"}), "--workers");
  EXPECT_EQ(rusm({"run", ok, "--workers", "2"}).status, 0);
}

// Before: exit status 104 (CLI11's conversion error), and two lines.
TEST(Cli, NegativeWorkersIsAUsageError) {
  expect_usage_error(rusm({"run", kGuests + "/cli_exit0.wasm", "--workers", "-1"}), "--workers");
}

TEST(Cli, BenchThreadsAndDurationAreChecked) {
  expect_usage_error(rusm({"bench", "spawn-storm", "--threads", "5000"}), "--threads");
  expect_usage_error(rusm({"bench", "spawn-storm", "--threads", "-1"}), "--threads");
  expect_usage_error(rusm({"bench", "spawn-storm", "--duration", "nan"}), "--duration");
}

// Before: --workers 5000 started a dashboard with 5000 workers, --hz nan one
// whose sampler never ran; both kept running.
TEST(Cli, DashboardWorkersAndHzAreChecked) {
  std::vector<std::string> base = {"dashboard", "--no-demo", "--listen", "127.0.0.1:0"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  expect_usage_error(rusm(with({"--workers", "5000"}), ms(5000)), "--workers");
  expect_usage_error(rusm(with({"--hz", "nan"}), ms(5000)), "--hz");
  expect_usage_error(rusm(with({"--hz", "inf"}), ms(5000)), "--hz");
}

// Before: --dir HOST:/x:rw gave the guest a directory named "/x:rw".
TEST(Cli, DirAcceptsRwAndKeepsItOutOfTheGuestPath) {
  std::string dir = temp_dir();
  std::string guest = kGuests + "/cli_prestat.wasm";
  EXPECT_EQ(rusm({"run", guest, "--dir", dir + ":/x"}).status, 0);
  EXPECT_EQ(rusm({"run", guest, "--dir", dir + ":/x:rw"}).status, 0)
      << "the guest saw another name than /x";
  EXPECT_EQ(rusm({"run", guest, "--dir", dir + ":/x:ro"}).status, 0);
}

TEST(Cli, DirRefusesUnknownModes) {
  std::string dir = temp_dir();
  std::string guest = kGuests + "/cli_prestat.wasm";
  expect_usage_error(rusm({"run", guest, "--dir", dir + ":/x:rx"}), "unknown mode 'rx'");
  expect_usage_error(rusm({"run", guest, "--dir", dir + ":/x:ro:rw"}), "--dir");
  expect_usage_error(rusm({"run", guest, "--dir", ":/x"}), "--dir");
}

}  // namespace
}  // namespace rusm::security

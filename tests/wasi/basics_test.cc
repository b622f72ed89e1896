// WASI calls other than the file system: args, environ, clocks, random,
// stdio modes, proc_exit, sched_yield, sleeping, unsupported calls and bad
// guest pointers. Each is run with its capability granted and denied.
#include <gtest/gtest.h>
#include <unistd.h>

#include "driver.h"

namespace rusm::wasi {
namespace {

using testing::captured;
using testing::run_guest;

TEST(WasiBasics, GuestSeesArgsAndOnlyTheGrantedEnvironment) {
  Config c = captured({"args", "two words", "é"});
  c.env = {"HOME=/home/guest", "EMPTY="};
  auto r = run_guest("basics", c);
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out,
            "argc=4\nargv[0]=guest\nargv[1]=args\nargv[2]=two words\nargv[3]=é\n"
            "env HOME=/home/guest\nenv EMPTY=\nHOME=/home/guest\n");
}

TEST(WasiBasics, NoEnvironmentByDefault) {
  auto r = run_guest("basics", captured({"args"}));
  EXPECT_EQ(r.out, "argc=2\nargv[0]=guest\nargv[1]=args\nHOME=(unset)\n");
}

TEST(WasiBasics, ClocksWhenGranted) {
  Config c = captured({"clock"});
  c.allow_clock = true;
  auto r = run_guest("basics", c);
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out,
            "time_get=0,0 res_get=0 realtime=0 bad_clock=28 cputime=0\n"
            "monotonic_ordered=1 res_positive=1 realtime_after_2020=1\n"
            "clock_gettime=0 errno=0\n");
}

TEST(WasiBasics, ClocksDeniedGiveNotCapable) {
  auto r = run_guest("basics", captured({"clock"}));
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out,
            "time_get=76,76 res_get=76 realtime=76 bad_clock=76 cputime=76\n"
            "clock_gettime=-1 errno=76\n");
}

TEST(WasiBasics, RandomWhenGranted) {
  Config c = captured({"random"});
  c.allow_random = true;
  EXPECT_EQ(run_guest("basics", c).out, "random_get=0 nonzero=1\n");
}

TEST(WasiBasics, RandomDeniedGivesNotCapable) {
  EXPECT_EQ(run_guest("basics", captured({"random"})).out, "random_get=76 nonzero=0\n");
}

TEST(WasiBasics, ProcExitRecordsTheCodeAndTraps) {
  auto r = run_guest("basics", captured({"exit", "42"}));
  EXPECT_FALSE(r.finished);
  EXPECT_EQ(r.trap, "proc_exit(42)");
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 42u);
  EXPECT_EQ(r.out, "exiting with 42\n");  // stdio is flushed before proc_exit
}

TEST(WasiBasics, ExitZeroIsStillAnExit) {
  auto r = run_guest("basics", captured({"exit", "0"}));
  EXPECT_EQ(r.trap, "proc_exit(0)");
  EXPECT_EQ(r.exit_code, std::optional<uint32_t>(0));
}

TEST(WasiBasics, CapturedStdinAndStderr) {
  Config c = captured({"stdin"});
  c.stdin_mode = StdioMode::kCapture;
  c.stdin_data = "line one\nline two";
  auto r = run_guest("basics", c);
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out, "read 17 bytes: line one\nline two\n");
  EXPECT_EQ(r.err, "to stderr\n");
}

TEST(WasiBasics, NullStdioReadsEndOfFileAndDiscardsOutput) {
  Config c;
  c.args = {"guest", "stdin"};
  auto r = run_guest("basics", c);
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(WasiBasics, StdioDescriptors) {
  auto r = run_guest("basics", captured({"stdio"}));
  EXPECT_EQ(r.out,
            "fd 0: fdstat=0 read=1 write=0\n"
            "fd 1: fdstat=0 read=0 write=1\n"
            "fd 2: fdstat=0 read=0 write=1\n"
            "write stdin=8\nseek stdout=70\nprestat fd 3=8\n");
}

TEST(WasiBasics, SleepSuspendsWithADeadlineInsteadOfBlocking) {
  Config c = captured({"sleep"});
  c.allow_clock = true;
  auto before = std::chrono::steady_clock::now();
  auto r = run_guest("basics", c);
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out, "nanosleep=0 errno=0\n");
  ASSERT_EQ(r.waits.size(), 1u);
  EXPECT_EQ(r.waits[0], Wait::Kind::kDeadline);
  ASSERT_EQ(r.deadline_waits.size(), 1u);
  // The deadline is ~50 ms after the call; the call itself returned at once.
  EXPECT_GT(r.deadline_waits[0], std::chrono::nanoseconds(0));
  EXPECT_LE(r.deadline_waits[0], std::chrono::milliseconds(50));
  EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(50));
}

TEST(WasiBasics, SleepWithoutTheClockFailsAtOnce) {
  auto r = run_guest("basics", captured({"sleep"}));
  EXPECT_TRUE(r.waits.empty());
  // The clock subscription's event carries ENOTCAPABLE; wasi-libc's
  // clock_nanosleep reports that as ENOTSUP.
  EXPECT_EQ(r.out, "nanosleep=-1 errno=58\n");
}

TEST(WasiBasics, PollAnswersAReadyDescriptorWithoutWaiting) {
  Config c = captured({"rawpoll"});
  c.allow_clock = true;
  c.stdin_mode = StdioMode::kCapture;
  c.stdin_data = "abc";
  auto r = run_guest("basics", c);
  EXPECT_TRUE(r.waits.empty());
  EXPECT_EQ(r.out, "poll=0 nevents=1\nevent userdata=8 error=0 type=1 nbytes=3 hangup=0\n");
}

TEST(WasiBasics, PollClockSubscriptionDeniedIsAnEventError) {
  Config c = captured({"rawpoll"});
  c.stdin_mode = StdioMode::kCapture;
  c.stdin_data = "abc";
  auto r = run_guest("basics", c);
  EXPECT_TRUE(r.waits.empty());
  EXPECT_EQ(r.out,
            "poll=0 nevents=2\n"
            "event userdata=7 error=76 type=0 nbytes=0 hangup=0\n"
            "event userdata=8 error=0 type=1 nbytes=3 hangup=0\n");
}

TEST(WasiBasics, PollWaitsForTheClockWhenNothingIsReady) {
  Config c = captured({"rawpoll"});
  c.allow_clock = true;
  c.stdin_mode = StdioMode::kInherit;
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  int saved = dup(0);
  dup2(pipefd[0], 0);  // an empty pipe as the node's stdin
  auto r = run_guest("basics", c);
  dup2(saved, 0);
  close(saved);
  close(pipefd[0]);
  close(pipefd[1]);
  EXPECT_EQ(r.out, "poll=0 nevents=1\nevent userdata=7 error=0 type=0 nbytes=0 hangup=0\n");
  ASSERT_FALSE(r.waits.empty());
  EXPECT_EQ(r.waits[0], Wait::Kind::kFdRead);
}

TEST(WasiBasics, InheritedStdinSuspendsUntilDataArrives) {
  Config c = captured({"stdin"});
  c.stdin_mode = StdioMode::kInherit;
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  int saved = dup(0);
  dup2(pipefd[0], 0);
  close(pipefd[0]);
  int writer = pipefd[1];
  // The "other side" acts only while the guest is suspended: the first wait
  // gets data, the next one end of file.
  auto r = run_guest("basics", c, [&](const Wait& w) {
    EXPECT_EQ(w.kind, Wait::Kind::kFdRead);
    EXPECT_EQ(w.host_fd, 0);
    if (writer >= 0) {
      static bool wrote = false;
      if (!wrote) {
        ASSERT_EQ(write(writer, "hello", 5), 5);
        wrote = true;
      } else {
        close(writer);
        writer = -1;
      }
    }
  });
  dup2(saved, 0);
  close(saved);
  if (writer >= 0) {
    close(writer);
  }
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out, "read 5 bytes: hello\n");
  EXPECT_EQ(r.waits, (std::vector<Wait::Kind>{Wait::Kind::kFdRead, Wait::Kind::kFdRead}));
}

TEST(WasiBasics, ResumeBeforeTheDeadlineSuspendsAgainWithTheSameDeadline) {
  Config c = captured({"sleep"});
  c.allow_clock = true;
  std::vector<std::chrono::steady_clock::time_point> deadlines;
  auto r = run_guest(
      "basics", c, [&](const Wait& w) { deadlines.push_back(w.deadline); },
      /*early_resumes=*/1);
  EXPECT_EQ(r.out, "nanosleep=0 errno=0\n");
  EXPECT_EQ(r.waits, (std::vector<Wait::Kind>{Wait::Kind::kDeadline, Wait::Kind::kDeadline}));
  ASSERT_EQ(deadlines.size(), 2u);
  EXPECT_EQ(deadlines[0], deadlines[1]) << "a redone sleep must not restart its timeout";
}

TEST(WasiBasics, ResumeWithoutASuspendedCallIsRefused) {
  auto ctx = Context::create(Config());
  ASSERT_TRUE(ctx.is_ok());
  wasm::Execution exec;
  std::string msg;
  EXPECT_EQ((*ctx)->resume(exec, &msg), wasm::HostAction::kTrap);
  EXPECT_NE(msg.find("without a suspended WASI call"), std::string::npos) << msg;
  EXPECT_EQ((*ctx)->pending().kind, Wait::Kind::kNone);
}

TEST(WasiBasics, SchedYieldSuspendsOnce) {
  auto r = run_guest("basics", captured({"yield"}));
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out, "sched_yield=0\n");
  EXPECT_EQ(r.waits, std::vector<Wait::Kind>{Wait::Kind::kYield});
}

TEST(WasiBasics, BadPointersAndLengthsAreErrorsNotCrashes) {
  Config c = captured({"faults"});
  c.allow_clock = true;
  c.allow_random = true;
  auto r = run_guest("basics", c);
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out,
            "fd_write bad iovs=21\n"
            "fd_write bad buf=21\n"
            "fd_write bad nwritten=21\n"
            "fd_write huge iovs_len=28\n"
            "fd_read bad buf=21\n"
            "args_sizes_get bad=21\n"
            "args_get bad=21\n"
            "environ_get bad=21\n"
            "random_get bad=21\n"
            "clock_time_get bad=21\n"
            "poll_oneoff zero subs=28\n"
            "poll_oneoff bad in=21\n"
            "poll_oneoff huge nsubs=28\n"
            "fd_fdstat_get bad fd=8\n"
            "fd_prestat_dir_name bad=8\n");
}

// No descriptor is a socket: sock_* say ENOTSOCK (57) on stdio, EBADF (8) on
// a descriptor that does not exist (the WASI test suite's sock_shutdown-*).
TEST(WasiBasics, UnsupportedCallsSayNoSysAndSocketCallsNotASocket) {
  auto r = run_guest("basics", captured({"unsupported"}));
  EXPECT_TRUE(r.finished) << r.trap;
  EXPECT_EQ(r.out,
            "proc_raise=52\nsock_accept=57\nsock_recv=57\nsock_send=57\nsock_shutdown=57\n"
            "bad fd: sock_accept=8 sock_recv=8 sock_send=8 sock_shutdown=8\n");
}

TEST(WasiBasics, MissingPreopenDirectoryIsAClearError) {
  auto p = Preopen::open("/nonexistent/rusm-wasi-test", "/data");
  ASSERT_FALSE(p.is_ok());
  EXPECT_NE(p.error().message().find("/nonexistent/rusm-wasi-test"), std::string::npos)
      << p.error().message();
  EXPECT_NE(p.error().message().find("/data"), std::string::npos) << p.error().message();
}

TEST(WasiBasics, PreopenWithoutAHeldDirectoryIsRefused) {
  Config c;
  Preopen p;
  p.guest_path = "/data";
  c.preopens.push_back(p);
  auto ctx = Context::create(c);
  ASSERT_FALSE(ctx.is_ok());
  EXPECT_NE(ctx.error().message().find("'/data' holds no directory"), std::string::npos)
      << ctx.error().message();
}

TEST(WasiBasics, HostFunctionsCoverThePreview1Module) {
  HostFunctions host;
  wasm::Imports imports;
  host.add_to(imports);
  for (const char* name : {"args_get",
                           "args_sizes_get",
                           "environ_get",
                           "environ_sizes_get",
                           "clock_res_get",
                           "clock_time_get",
                           "fd_advise",
                           "fd_allocate",
                           "fd_close",
                           "fd_datasync",
                           "fd_fdstat_get",
                           "fd_fdstat_set_flags",
                           "fd_fdstat_set_rights",
                           "fd_filestat_get",
                           "fd_filestat_set_size",
                           "fd_filestat_set_times",
                           "fd_pread",
                           "fd_prestat_get",
                           "fd_prestat_dir_name",
                           "fd_pwrite",
                           "fd_read",
                           "fd_readdir",
                           "fd_renumber",
                           "fd_seek",
                           "fd_sync",
                           "fd_tell",
                           "fd_write",
                           "path_create_directory",
                           "path_filestat_get",
                           "path_filestat_set_times",
                           "path_link",
                           "path_open",
                           "path_readlink",
                           "path_remove_directory",
                           "path_rename",
                           "path_symlink",
                           "path_unlink_file",
                           "poll_oneoff",
                           "proc_exit",
                           "proc_raise",
                           "sched_yield",
                           "random_get",
                           "sock_accept",
                           "sock_recv",
                           "sock_send",
                           "sock_shutdown"}) {
    const wasm::Extern* e = imports.find(kModuleName, name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_TRUE(host.owns(e->func)) << name;
  }
}

}  // namespace
}  // namespace rusm::wasi

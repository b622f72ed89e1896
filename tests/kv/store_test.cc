#include "rusm/kv/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

namespace rusm::kv {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rusm-kv-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    store_ = open();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<Store> open(StoreOptions o = {}) {
    o.path = dir_ / "sub" / "kv.db";
    auto s = Store::open(std::move(o));
    EXPECT_TRUE(s) << s.message();
    return s ? std::move(*s) : nullptr;
  }
  Reply call(Request r) { return store_->call(std::move(r)); }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, PutThenGetReturnsTheBytesAndDeleteRemovesThem) {
  const std::string key("k\0ey", 4), value("v\0\xff", 3);
  ASSERT_EQ(call(Request::put("b", key, value)).code, Code::kOk);
  Reply got = call(Request::get("b", key));
  ASSERT_EQ(got.code, Code::kOk);
  EXPECT_EQ(got.value, value);
  ASSERT_EQ(call(Request::put("b", "empty", "")).code, Code::kOk);
  got = call(Request::get("b", "empty"));
  EXPECT_EQ(got.code, Code::kOk) << "an empty value is a value, not a missing key";
  EXPECT_EQ(got.value, "");
  EXPECT_EQ(call(Request::del("b", key)).code, Code::kOk);
  EXPECT_EQ(call(Request::get("b", key)).code, Code::kNotFound);
  EXPECT_EQ(call(Request::del("b", key)).code, Code::kNotFound);
}

TEST_F(StoreTest, BucketsAreSeparateNamespaces) {
  ASSERT_EQ(call(Request::put("a", "k", "1")).code, Code::kOk);
  ASSERT_EQ(call(Request::put("b", "k", "2")).code, Code::kOk);
  EXPECT_EQ(call(Request::get("a", "k")).value, "1");
  EXPECT_EQ(call(Request::get("b", "k")).value, "2");
  EXPECT_EQ(call(Request::get("c", "k")).code, Code::kNotFound);
}

TEST_F(StoreTest, CompareAndSwapWritesOnlyWhenTheKeyHoldsTheExpectedValue) {
  Request cas;
  cas.op = Request::Op::kCas;
  cas.bucket = "b";
  cas.key = "k";
  cas.value = "one";
  cas.expected = std::nullopt;  // must be absent
  EXPECT_EQ(call(cas).code, Code::kOk);
  EXPECT_EQ(call(cas).code, Code::kConflict) << "the key exists now";
  cas.expected = "two";
  cas.value = "three";
  EXPECT_EQ(call(cas).code, Code::kConflict);
  EXPECT_EQ(call(Request::get("b", "k")).value, "one");
  cas.expected = "one";
  EXPECT_EQ(call(cas).code, Code::kOk);
  EXPECT_EQ(call(Request::get("b", "k")).value, "three");
  cas.expected = "three";
  cas.cas_delete = true;
  EXPECT_EQ(call(cas).code, Code::kOk);
  EXPECT_EQ(call(Request::get("b", "k")).code, Code::kNotFound);
}

TEST_F(StoreTest, IncrementCountsFromZeroAndRefusesWhatIsNotAnInteger) {
  Reply r = call(Request::incr("b", "n", 5));
  ASSERT_EQ(r.code, Code::kOk);
  EXPECT_EQ(r.number, 5);
  EXPECT_EQ(call(Request::incr("b", "n", -7)).number, -2);
  EXPECT_EQ(call(Request::get("b", "n")).value, "-2") << "stored as decimal text";
  ASSERT_EQ(call(Request::put("b", "s", "12x")).code, Code::kOk);
  EXPECT_EQ(call(Request::incr("b", "s", 1)).code, Code::kNotInteger);
  ASSERT_EQ(call(Request::put("b", "max", "9223372036854775807")).code, Code::kOk);
  EXPECT_EQ(call(Request::incr("b", "max", 1)).code, Code::kOverflow);
  EXPECT_EQ(call(Request::get("b", "max")).value, "9223372036854775807") << "unchanged";
}

TEST_F(StoreTest, ListReturnsAPrefixInByteOrderPageByPage) {
  for (const std::string& k : std::vector<std::string>{"user/3", "user/1", "user/2", "users",
                                                       "user0", "a", std::string("user/\xff", 6)}) {
    ASSERT_EQ(call(Request::put("b", k, "v" + k)).code, Code::kOk);
  }
  Request list;
  list.op = Request::Op::kList;
  list.bucket = "b";
  list.key = "user/";
  list.limit = 2;
  list.with_values = true;
  Reply page = call(list);
  ASSERT_EQ(page.code, Code::kOk);
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[0].first, "user/1");
  EXPECT_EQ(page.entries[0].second, "vuser/1");
  EXPECT_EQ(page.entries[1].first, "user/2");
  EXPECT_TRUE(page.more);
  list.after = page.entries.back().first;
  page = call(list);
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[0].first, "user/3");
  EXPECT_EQ(page.entries[1].first, std::string("user/\xff", 6));
  EXPECT_FALSE(page.more);
  list.key = std::string("user/\xff", 6);  // a prefix whose end is computed past 0xff
  list.after.clear();
  list.with_values = false;
  page = call(list);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].second, "") << "no values unless asked";
  list.key.clear();
  list.limit = 0;  // everything, up to max_list
  EXPECT_EQ(call(list).entries.size(), 7u);
  list.with_values = true;
  list.max_bytes = 10;  // "a" + "va", then "user/1" + "vuser/1" passes it
  page = call(list);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_TRUE(page.more);
  list.max_bytes = 1;
  EXPECT_EQ(call(list).entries.size(), 1u) << "the first entry always comes";
}

TEST_F(StoreTest, ABatchAppliesAllOrNothing) {
  ASSERT_EQ(call(Request::put("b", "x", "1")).code, Code::kOk);
  Request batch;
  batch.op = Request::Op::kBatch;
  batch.bucket = "b";
  batch.batch = {{BatchOp::Kind::kPut, "y", "2"},
                 {BatchOp::Kind::kCheck, "x", "1"},
                 {BatchOp::Kind::kCheckAbsent, "x", ""},
                 {BatchOp::Kind::kDelete, "x", ""}};
  Reply r = call(batch);
  EXPECT_EQ(r.code, Code::kConflict);
  EXPECT_EQ(r.number, 2) << "the failing check's index";
  EXPECT_EQ(call(Request::get("b", "y")).code, Code::kNotFound) << "nothing applied";
  EXPECT_EQ(call(Request::get("b", "x")).value, "1");
  batch.batch.erase(batch.batch.begin() + 2);
  EXPECT_EQ(call(batch).code, Code::kOk);
  EXPECT_EQ(call(Request::get("b", "y")).value, "2");
  EXPECT_EQ(call(Request::get("b", "x")).code, Code::kNotFound);
}

TEST_F(StoreTest, RequestsOutOfBoundsAreRefusedWithoutTouchingTheStore) {
  store_.reset();
  StoreOptions o;
  o.max_key = 8;
  o.max_value = 16;
  o.max_batch = 2;
  store_ = open(o);
  EXPECT_EQ(call(Request::put("", "k", "v")).code, Code::kInvalid) << "empty bucket";
  EXPECT_EQ(call(Request::put("b", "", "v")).code, Code::kInvalid) << "empty key";
  EXPECT_EQ(call(Request::put("b", "123456789", "v")).code, Code::kInvalid) << "key over max_key";
  EXPECT_EQ(call(Request::put("b", "k", std::string(17, 'v'))).code, Code::kInvalid);
  Request batch;
  batch.op = Request::Op::kBatch;
  batch.bucket = "b";
  batch.batch.resize(3, {BatchOp::Kind::kPut, "k", "v"});
  EXPECT_EQ(call(batch).code, Code::kInvalid) << "over max_batch";
  batch.batch.resize(1);
  batch.batch[0].kind = static_cast<BatchOp::Kind>(9);
  EXPECT_EQ(call(batch).code, Code::kInvalid) << "unknown op";
  EXPECT_EQ(store_->stats().requests, 0u);
}

TEST_F(StoreTest, AFailedCommitAppliesNothingAndTheStoreGoesOn) {
  store_.reset();
  StoreOptions o;
  o.max_bytes = 256 * 1024;  // a full disk, in small
  store_ = open(o);
  ASSERT_EQ(call(Request::put("b", "kept", "v")).code, Code::kOk);
  const std::string value(16 * 1024, 'x');
  int i = 0;
  Reply r;
  while ((r = call(Request::put("b", "k" + std::to_string(i), value))).code == Code::kOk) {
    ASSERT_LT(++i, 1000) << "max_bytes never refused a write";
  }
  EXPECT_EQ(r.code, Code::kIo);
  EXPECT_FALSE(r.value.empty()) << "the reply says why";
  EXPECT_EQ(call(Request::get("b", "k" + std::to_string(i))).code, Code::kNotFound)
      << "the failed write is not applied";
  Request batch;
  batch.op = Request::Op::kBatch;
  batch.bucket = "b";
  batch.batch = {{BatchOp::Kind::kPut, "small", "1"}, {BatchOp::Kind::kPut, "big", value}};
  EXPECT_EQ(call(batch).code, Code::kIo);
  EXPECT_EQ(call(Request::get("b", "small")).code, Code::kNotFound) << "a batch fails whole";
  EXPECT_EQ(call(Request::get("b", "kept")).value, "v") << "what was committed stays";
  EXPECT_GE(store_->stats().failed, 2u);
  ASSERT_EQ(call(Request::del("b", "k0")).code, Code::kOk);
  EXPECT_EQ(call(Request::put("b", "small", "1")).code, Code::kOk) << "usable again with room";
}

TEST_F(StoreTest, AFloodOfQueuedBytesIsRefusedNotBuffered) {
  store_.reset();
  StoreOptions o;
  o.max_queued_bytes = 4096;
  store_ = open(o);
  std::atomic<int> busy{0}, done{0};
  constexpr int kPuts = 200;
  for (int i = 0; i < kPuts; ++i) {
    store_->submit(Request::put("b", "k" + std::to_string(i), std::string(1024, 'v')),
                   [&](Reply r) {
                     busy += r.code == Code::kBusy;
                     ++done;
                   });
  }
  EXPECT_GT(busy.load(), 0) << "200 KiB submitted at once against a 4 KiB queue";
  EXPECT_EQ(call(Request::put("b", "after", "v")).code, Code::kOk) << "the store goes on";
  EXPECT_EQ(done.load(), kPuts);
}

TEST_F(StoreTest, WritesSurviveReopening) {
  ASSERT_EQ(call(Request::put("b", "k", "kept")).code, Code::kOk);
  store_.reset();
  store_ = open();
  EXPECT_EQ(call(Request::get("b", "k")).value, "kept");
}

TEST_F(StoreTest, ASecondStoreOnTheSameFileIsRefused) {
  StoreOptions o;
  o.path = dir_ / "sub" / "kv.db";
  auto second = Store::open(o);
  ASSERT_FALSE(second);
  EXPECT_NE(second.message().find("in use by another process"), std::string::npos)
      << second.message();
}

TEST_F(StoreTest, ConcurrentWritersShareCommitsAndLoseNoIncrement) {
  constexpr int kThreads = 32, kEach = 20;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        if (store_->call(Request::incr("b", "n", 1)).code != Code::kOk) {
          errors.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(call(Request::get("b", "n")).value, std::to_string(kThreads * kEach));
  StoreStats s = store_->stats();
  EXPECT_LT(s.commits, static_cast<uint64_t>(kThreads * kEach))
      << "concurrent writes should share commits (group commit)";
}

TEST_F(StoreTest, RepliesComeInSubmissionOrderAndSeeEarlierWrites) {
  std::vector<Reply> replies;
  std::mutex mu;
  for (int i = 0; i < 100; ++i) {
    store_->submit(Request::incr("b", "n", 1), [&](Reply r) {
      std::lock_guard lock(mu);
      replies.push_back(std::move(r));
    });
  }
  Reply last = call(Request::get("b", "n"));
  EXPECT_EQ(last.value, "100");
  std::lock_guard lock(mu);
  ASSERT_EQ(replies.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(replies[i].number, i + 1);
  }
}

}  // namespace
}  // namespace rusm::kv

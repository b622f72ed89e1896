// kv_store_compare: SQLite (WAL mode) and LMDB measured under identical
// workloads, to choose the store behind the guests' durable per-node
// key-value API. A standalone program: no rusm library, only the C APIs of
// sqlite3 and lmdb.
//
//   kv_store_compare [--keep] [--seconds S] [DIR]
//
// DIR is where the stores are created (default: a fresh
// ./kv_store_compare.XXXXXX). It must be on a real disk: the cost of a durable
// commit (fdatasync) is much of what is measured, so a tmpfs or ramfs directory
// is refused. The stores are deleted at the end unless --keep.
//
// Both stores implement one small interface (KvStore) and every workload is
// written once against it, so both run the same operations on the same keys in
// the same order (fixed seeds). Every library call's return code is checked and
// every read is compared with what was written; the first failure ends the
// program with a message. Per store:
//   1. durable single put: 300 transactions of one put each, each commit
//      durable (SQLite synchronous=FULL; LMDB default flags, i.e. synced):
//      commits/s and the p50/p99 of begin+put+commit.
//   2. group commit: transactions of 64 read-modify-writes (get, parse the
//      decimal counter, +1, put) on 64 distinct counters out of 1024, for
//      --seconds (default 3): RMW/s. The store is then reopened and every
//      counter must equal the increments the workload made to it.
//   3. a fresh store loaded with 100k keys x 100-byte values (1000 puts per
//      transaction, keys in shuffled order), then 1M uniform random gets, once
//      with one read transaction per 1000 gets and once with one per get.
//   4. 10k prefix scans, each listing the 100 keys under a random prefix in its
//      own read transaction.
//   5. the loaded store's files: bytes allocated on disk and the file count,
//      while open and after close.
// Buckets are a column of the primary key in SQLite and named databases in
// LMDB.

#include <fcntl.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kSinglePuts = 300;
constexpr int kCounters = 1024;
constexpr int kRmwPerTxn = 64;
constexpr int kLoadKeys = 100'000;
constexpr int kLoadPerTxn = 1000;
constexpr size_t kValueBytes = 100;
constexpr int kGets = 1'000'000;
constexpr int kGetsPerTxn = 1000;
constexpr int kScans = 10'000;
// Data keys are k00000000..k00099999, so a prefix "k000ddd" covers exactly the
// 100 keys k000ddd00..k000ddd99, and there are 1000 such prefixes.
constexpr int kScanKeys = 100;
constexpr int kScanPrefixes = kLoadKeys / kScanKeys;
constexpr size_t kLmdbMapSize = size_t{1} << 30;
constexpr uint64_t kSeed = 0x6b76636d70;  // "kvcmp"
constexpr int kFsyncProbes = 100;

[[noreturn]] void die(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "kv_store_compare: %s\n", message.c_str());
  std::exit(1);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Nearest-rank percentile (p in [0, 1]) of unsorted samples.
double percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(samples.size())));
  return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
}

enum class Bucket { kSingle, kCounters, kData };
constexpr std::array<std::string_view, 3> kBucketNames = {"single", "counters", "data"};

std::string_view bucket_name(Bucket bucket) {
  return kBucketNames[static_cast<size_t>(bucket)];
}

std::string numbered_key(char tag, uint32_t n) {
  char buf[16];
  int len = std::snprintf(buf, sizeof buf, "%c%08" PRIu32, tag, n);
  return std::string(buf, static_cast<size_t>(len));
}

// The key, '=', then filler up to kValueBytes: a read proves it found the
// record it asked for by finding its own key in the value.
std::string make_value(std::string_view key) {
  std::string value(key);
  value.push_back('=');
  while (value.size() < kValueBytes) {
    value.push_back(static_cast<char>('a' + value.size() % 26));
  }
  return value;
}

bool value_matches(std::string_view key, std::string_view value) {
  return value.size() == kValueBytes && value.substr(0, key.size()) == key &&
         value[key.size()] == '=';
}

uint64_t parse_counter(std::string_view text, std::string_view key) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) {
    die("counter " + std::string(key) + " holds '" + std::string(text) + "', not a number");
  }
  return n;
}

// A key-value store with buckets, single-threaded. At most one transaction is
// open at a time; using a store outside the transaction a call needs ends the
// program (so a workload cannot silently run in a different mode than it
// claims).
class KvStore {
 public:
  virtual ~KvStore() = default;

  // A write transaction; commit() returns once it is durable.
  virtual void begin_write() = 0;
  virtual void commit() = 0;
  // A read transaction, for batches of gets.
  virtual void begin_read() = 0;
  virtual void end_read() = 0;

  // Inside a read or write transaction: copies the value into *value (an
  // out-parameter so that the hot loops reuse one buffer); false if absent.
  virtual bool get(Bucket bucket, std::string_view key, std::string* value) = 0;
  // Inside a write transaction: inserts or replaces.
  virtual void put(Bucket bucket, std::string_view key, std::string_view value) = 0;
  // Outside any transaction: a get in a read transaction of its own.
  virtual bool get_once(Bucket bucket, std::string_view key, std::string* value) = 0;
  // Outside any transaction: the keys starting with prefix, in key order, read
  // in a read transaction of their own.
  virtual void scan_once(Bucket bucket, std::string_view prefix,
                         std::vector<std::string>* keys) = 0;

  // Version and the settings in effect, read back from the library.
  virtual std::string describe() = 0;
};

// --- SQLite ---------------------------------------------------------------

class SqliteStore final : public KvStore {
 public:
  explicit SqliteStore(const fs::path& dir) {
    int rc =
        sqlite3_open_v2((dir / "kv.db").c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    check(rc, SQLITE_OK, "open");
    if (pragma_text("PRAGMA journal_mode=WAL") != "wal") {
      die("sqlite: journal_mode=WAL was not accepted");
    }
    pragma_text("PRAGMA synchronous=FULL");
    if (pragma_text("PRAGMA synchronous") != "2") {
      die("sqlite: synchronous=FULL was not accepted");
    }
    run_once(
        "CREATE TABLE IF NOT EXISTS kv(bucket TEXT NOT NULL, key BLOB NOT NULL, "
        "value BLOB NOT NULL, PRIMARY KEY(bucket, key)) WITHOUT ROWID");
    begin_read_ = prepare("BEGIN DEFERRED");
    begin_write_ = prepare("BEGIN IMMEDIATE");
    commit_ = prepare("COMMIT");
    get_ = prepare("SELECT value FROM kv WHERE bucket = ?1 AND key = ?2");
    put_ = prepare(
        "INSERT INTO kv(bucket, key, value) VALUES(?1, ?2, ?3) "
        "ON CONFLICT(bucket, key) DO UPDATE SET value = excluded.value");
    scan_ = prepare("SELECT key FROM kv WHERE bucket = ?1 AND key >= ?2 AND key < ?3 ORDER BY key");
  }

  ~SqliteStore() override {
    for (sqlite3_stmt* stmt : {begin_read_, begin_write_, commit_, get_, put_, scan_}) {
      sqlite3_finalize(stmt);
    }
    // The last connection's close checkpoints the WAL and deletes it.
    if (sqlite3_close(db_) != SQLITE_OK) {
      die("sqlite: close: " + std::string(sqlite3_errmsg(db_)));
    }
  }

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  void begin_write() override {
    expect_autocommit("begin_write");
    run(begin_write_, "BEGIN IMMEDIATE");
  }
  void commit() override { run(commit_, "COMMIT"); }
  void begin_read() override {
    expect_autocommit("begin_read");
    run(begin_read_, "BEGIN");
  }
  void end_read() override { run(commit_, "COMMIT (read)"); }

  bool get(Bucket bucket, std::string_view key, std::string* value) override {
    if (sqlite3_get_autocommit(db_) != 0) {
      die("sqlite: get outside a transaction");
    }
    return lookup(bucket, key, value);
  }

  void put(Bucket bucket, std::string_view key, std::string_view value) override {
    if (sqlite3_get_autocommit(db_) != 0) {
      die("sqlite: put outside a transaction");
    }
    bind_bucket_key(put_, bucket, key);
    check(sqlite3_bind_blob(put_, 3, value.data(), static_cast<int>(value.size()), SQLITE_STATIC),
          SQLITE_OK, "bind value");
    run(put_, "put");
  }

  // One statement in autocommit mode is SQLite's own read transaction.
  bool get_once(Bucket bucket, std::string_view key, std::string* value) override {
    expect_autocommit("get_once");
    return lookup(bucket, key, value);
  }

  void scan_once(Bucket bucket, std::string_view prefix, std::vector<std::string>* keys) override {
    expect_autocommit("scan_once");
    // Keys with the prefix are those in [prefix, prefix with its last byte + 1).
    std::string upper(prefix);
    if (upper.empty() || static_cast<unsigned char>(upper.back()) == 0xff) {
      die("sqlite: scan prefix must be non-empty and not end in 0xff");
    }
    upper.back() = static_cast<char>(upper.back() + 1);
    bind_bucket_key(scan_, bucket, prefix);
    check(sqlite3_bind_blob(scan_, 3, upper.data(), static_cast<int>(upper.size()), SQLITE_STATIC),
          SQLITE_OK, "bind upper bound");
    keys->clear();
    int rc;
    while ((rc = sqlite3_step(scan_)) == SQLITE_ROW) {
      const void* data = sqlite3_column_blob(scan_, 0);
      keys->emplace_back(static_cast<const char*>(data),
                         static_cast<size_t>(sqlite3_column_bytes(scan_, 0)));
    }
    check(rc, SQLITE_DONE, "scan step");
    check(sqlite3_reset(scan_), SQLITE_OK, "scan reset");
  }

  std::string describe() override {
    return "SQLite " + std::string(sqlite3_libversion()) +
           ": journal_mode=" + pragma_text("PRAGMA journal_mode") +
           ", synchronous=" + pragma_text("PRAGMA synchronous") +
           " (FULL), page_size=" + pragma_text("PRAGMA page_size") +
           ", cache_size=" + pragma_text("PRAGMA cache_size") +
           ", mmap_size=" + pragma_text("PRAGMA mmap_size") +
           ", wal_autocheckpoint=" + pragma_text("PRAGMA wal_autocheckpoint") +
           ", SQLITE_OPEN_NOMUTEX, WITHOUT ROWID table, prepared statements reused";
  }

 private:
  void check(int rc, int expected, const char* what) {
    if (rc != expected) {
      die(std::string("sqlite: ") + what + ": " + sqlite3_errstr(rc) + " (" +
          (db_ != nullptr ? sqlite3_errmsg(db_) : "no connection") + ")");
    }
  }

  void expect_autocommit(const char* what) {
    if (sqlite3_get_autocommit(db_) == 0) {
      die(std::string("sqlite: ") + what + " inside a transaction");
    }
  }

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    check(sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr), SQLITE_OK,
          sql);
    return stmt;
  }

  // Steps a statement that returns no rows, then resets it.
  void run(sqlite3_stmt* stmt, const char* what) {
    check(sqlite3_step(stmt), SQLITE_DONE, what);
    check(sqlite3_reset(stmt), SQLITE_OK, what);
  }

  void run_once(const char* sql) {
    sqlite3_stmt* stmt = prepare(sql);
    run(stmt, sql);
    sqlite3_finalize(stmt);
  }

  // The first column of a PRAGMA's single row, as text.
  std::string pragma_text(const char* sql) {
    sqlite3_stmt* stmt = prepare(sql);
    std::string text;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const unsigned char* p = sqlite3_column_text(stmt, 0);
      text = p != nullptr ? reinterpret_cast<const char*>(p) : "";
      rc = sqlite3_step(stmt);
    }
    check(rc, SQLITE_DONE, sql);
    sqlite3_finalize(stmt);
    return text;
  }

  void bind_bucket_key(sqlite3_stmt* stmt, Bucket bucket, std::string_view key) {
    std::string_view name = bucket_name(bucket);
    check(sqlite3_bind_text(stmt, 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC),
          SQLITE_OK, "bind bucket");
    check(sqlite3_bind_blob(stmt, 2, key.data(), static_cast<int>(key.size()), SQLITE_STATIC),
          SQLITE_OK, "bind key");
  }

  bool lookup(Bucket bucket, std::string_view key, std::string* value) {
    bind_bucket_key(get_, bucket, key);
    int rc = sqlite3_step(get_);
    bool found = rc == SQLITE_ROW;
    if (found) {
      const void* data = sqlite3_column_blob(get_, 0);
      auto size = static_cast<size_t>(sqlite3_column_bytes(get_, 0));
      value->assign(size == 0 ? "" : static_cast<const char*>(data), size);
    } else {
      check(rc, SQLITE_DONE, "get step");
    }
    check(sqlite3_reset(get_), SQLITE_OK, "get reset");
    return found;
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_read_ = nullptr;
  sqlite3_stmt* begin_write_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* get_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* scan_ = nullptr;
};

// --- LMDB -----------------------------------------------------------------

void lmdb_check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) {
    die(std::string("lmdb: ") + what + ": " + mdb_strerror(rc));
  }
}

MDB_val to_val(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

std::string_view from_val(const MDB_val& val) {
  return {static_cast<const char*>(val.mv_data), val.mv_size};
}

class LmdbStore final : public KvStore {
 public:
  explicit LmdbStore(const fs::path& dir) {
    lmdb_check(mdb_env_create(&env_), "env_create");
    lmdb_check(mdb_env_set_mapsize(env_, kLmdbMapSize), "set_mapsize");
    lmdb_check(mdb_env_set_maxdbs(env_, kBucketNames.size()), "set_maxdbs");
    // Flags 0: every commit is synced (no MDB_NOSYNC/NOMETASYNC/WRITEMAP).
    lmdb_check(mdb_env_open(env_, dir.c_str(), 0, 0644), "env_open");
    MDB_txn* txn = nullptr;
    lmdb_check(mdb_txn_begin(env_, nullptr, 0, &txn), "begin (open buckets)");
    for (size_t i = 0; i < kBucketNames.size(); ++i) {
      lmdb_check(mdb_dbi_open(txn, std::string(kBucketNames[i]).c_str(), MDB_CREATE, &dbis_[i]),
                 "dbi_open");
    }
    lmdb_check(mdb_txn_commit(txn), "commit (open buckets)");
  }

  ~LmdbStore() override {
    if (write_ != nullptr) {
      mdb_txn_abort(write_);
    }
    if (read_ != nullptr) {
      mdb_txn_abort(read_);
    }
    mdb_env_close(env_);
  }

  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  void begin_write() override {
    expect_idle("begin_write");
    lmdb_check(mdb_txn_begin(env_, nullptr, 0, &write_), "begin write");
  }

  void commit() override {
    if (write_ == nullptr) {
      die("lmdb: commit without a write transaction");
    }
    int rc = mdb_txn_commit(write_);  // frees the transaction even on failure
    write_ = nullptr;
    lmdb_check(rc, "commit");
  }

  // One read-only handle, reset and renewed: LMDB's cheap way to start a read.
  void begin_read() override {
    expect_idle("begin_read");
    if (read_ == nullptr) {
      lmdb_check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &read_), "begin read");
    } else {
      lmdb_check(mdb_txn_renew(read_), "renew read");
    }
    reading_ = true;
  }

  void end_read() override {
    if (!reading_) {
      die("lmdb: end_read without a read transaction");
    }
    mdb_txn_reset(read_);
    reading_ = false;
  }

  bool get(Bucket bucket, std::string_view key, std::string* value) override {
    MDB_txn* txn = write_ != nullptr ? write_ : reading_ ? read_ : nullptr;
    if (txn == nullptr) {
      die("lmdb: get outside a transaction");
    }
    MDB_val k = to_val(key);
    MDB_val v;
    int rc = mdb_get(txn, dbi(bucket), &k, &v);
    if (rc == MDB_NOTFOUND) {
      return false;
    }
    lmdb_check(rc, "get");
    value->assign(from_val(v));
    return true;
  }

  void put(Bucket bucket, std::string_view key, std::string_view value) override {
    if (write_ == nullptr) {
      die("lmdb: put outside a write transaction");
    }
    MDB_val k = to_val(key);
    MDB_val v = to_val(value);
    lmdb_check(mdb_put(write_, dbi(bucket), &k, &v, 0), "put");
  }

  bool get_once(Bucket bucket, std::string_view key, std::string* value) override {
    begin_read();
    bool found = get(bucket, key, value);
    end_read();
    return found;
  }

  void scan_once(Bucket bucket, std::string_view prefix, std::vector<std::string>* keys) override {
    begin_read();
    MDB_cursor* cursor = nullptr;
    lmdb_check(mdb_cursor_open(read_, dbi(bucket), &cursor), "cursor_open");
    keys->clear();
    MDB_val k = to_val(prefix);
    MDB_val v;
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS && from_val(k).substr(0, prefix.size()) == prefix) {
      keys->emplace_back(from_val(k));
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND) {
      lmdb_check(rc, "cursor_get");
    }
    mdb_cursor_close(cursor);
    end_read();
  }

  std::string describe() override {
    unsigned flags = 0;
    lmdb_check(mdb_env_get_flags(env_, &flags), "get_flags");
    MDB_envinfo info;
    lmdb_check(mdb_env_info(env_, &info), "env_info");
    MDB_stat stat;
    lmdb_check(mdb_env_stat(env_, &stat), "env_stat");
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s: env flags=0x%x (synced commits), map size=%zu MiB, page size=%u, "
                  "max readers=%u, one named database per bucket",
                  mdb_version(nullptr, nullptr, nullptr), flags, info.me_mapsize >> 20,
                  stat.ms_psize, info.me_maxreaders);
    return buf;
  }

 private:
  MDB_dbi dbi(Bucket bucket) const { return dbis_[static_cast<size_t>(bucket)]; }

  void expect_idle(const char* what) {
    if (write_ != nullptr || reading_) {
      die(std::string("lmdb: ") + what + " inside a transaction");
    }
  }

  MDB_env* env_ = nullptr;
  std::array<MDB_dbi, kBucketNames.size()> dbis_{};
  MDB_txn* write_ = nullptr;
  MDB_txn* read_ = nullptr;  // reset between reads, renewed by begin_read
  bool reading_ = false;
};

// --- Workloads --------------------------------------------------------------

struct DiskUsage {
  uint64_t allocated_bytes = 0;
  uint64_t apparent_bytes = 0;
  int files = 0;
  std::string names;
};

DiskUsage disk_usage(const fs::path& dir) {
  DiskUsage usage;
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    struct stat st;
    if (::stat(entry.path().c_str(), &st) != 0) {
      die("stat " + entry.path().string() + ": " + std::strerror(errno));
    }
    usage.allocated_bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    usage.apparent_bytes += static_cast<uint64_t>(st.st_size);
    ++usage.files;
    names.push_back(entry.path().filename().string() + " " + std::to_string(st.st_size >> 10) +
                    " KiB");
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    usage.names += (usage.names.empty() ? "" : ", ") + name;
  }
  return usage;
}

struct Results {
  double single_commits_per_s = 0;
  double single_p50_ms = 0;
  double single_p99_ms = 0;
  double rmw_per_s = 0;
  double group_commits_per_s = 0;
  uint64_t group_txns = 0;
  double load_puts_per_s = 0;
  double batched_gets_per_s = 0;
  double single_gets_per_s = 0;
  double scans_per_s = 0;
  DiskUsage loaded_open;
  DiskUsage loaded_closed;
  std::string description;
};

using OpenStore = std::function<std::unique_ptr<KvStore>(const fs::path&)>;

void single_puts(KvStore& store, Results& results) {
  std::vector<double> latencies_ms;
  latencies_ms.reserve(kSinglePuts);
  Clock::time_point start = Clock::now();
  for (int i = 0; i < kSinglePuts; ++i) {
    std::string key = numbered_key('s', static_cast<uint32_t>(i));
    std::string value = make_value(key);
    Clock::time_point t0 = Clock::now();
    store.begin_write();
    store.put(Bucket::kSingle, key, value);
    store.commit();
    latencies_ms.push_back(seconds_since(t0) * 1e3);
  }
  results.single_commits_per_s = kSinglePuts / seconds_since(start);
  results.single_p50_ms = percentile(latencies_ms, 0.50);
  results.single_p99_ms = percentile(latencies_ms, 0.99);
}

// Returns the number of increments made to each counter.
std::vector<uint64_t> group_commit(KvStore& store, double seconds, Results& results) {
  std::vector<std::string> keys;
  store.begin_write();
  for (uint32_t i = 0; i < kCounters; ++i) {
    keys.push_back(numbered_key('c', i));
    store.put(Bucket::kCounters, keys.back(), "0");
  }
  store.commit();

  std::vector<uint64_t> increments(kCounters, 0);
  std::vector<uint32_t> order(kCounters);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(kSeed);
  std::string value;
  char digits[24];
  uint64_t txns = 0;
  Clock::time_point start = Clock::now();
  double elapsed = 0;
  do {
    // 64 distinct counters: a partial Fisher-Yates shuffle of all of them.
    for (int j = 0; j < kRmwPerTxn; ++j) {
      std::swap(order[j], order[j + rng() % (kCounters - j)]);
    }
    store.begin_write();
    for (int j = 0; j < kRmwPerTxn; ++j) {
      const std::string& key = keys[order[j]];
      if (!store.get(Bucket::kCounters, key, &value)) {
        die("group commit: counter " + key + " is missing");
      }
      uint64_t n = parse_counter(value, key) + 1;
      char* end = std::to_chars(digits, digits + sizeof digits, n).ptr;
      store.put(Bucket::kCounters, key, std::string_view(digits, end - digits));
      ++increments[order[j]];
    }
    store.commit();
    ++txns;
    elapsed = seconds_since(start);
  } while (elapsed < seconds);
  results.group_txns = txns;
  results.group_commits_per_s = txns / elapsed;
  results.rmw_per_s = txns * kRmwPerTxn / elapsed;
  return increments;
}

// Reads back, in a freshly opened store, what workloads 1 and 2 wrote.
void verify_writes(KvStore& store, const std::vector<uint64_t>& increments, uint64_t txns) {
  std::string value;
  store.begin_read();
  for (uint32_t i = 0; i < kSinglePuts; ++i) {
    std::string key = numbered_key('s', i);
    if (!store.get(Bucket::kSingle, key, &value) || !value_matches(key, value)) {
      die("after reopen: single put " + key + " is missing or wrong");
    }
  }
  uint64_t sum = 0;
  for (uint32_t i = 0; i < kCounters; ++i) {
    std::string key = numbered_key('c', i);
    if (!store.get(Bucket::kCounters, key, &value)) {
      die("after reopen: counter " + key + " is missing");
    }
    uint64_t n = parse_counter(value, key);
    if (n != increments[i]) {
      die("after reopen: counter " + key + " is " + std::to_string(n) + ", expected " +
          std::to_string(increments[i]));
    }
    sum += n;
  }
  store.end_read();
  if (sum != txns * kRmwPerTxn) {
    die("after reopen: counters sum to " + std::to_string(sum) + ", expected " +
        std::to_string(txns * kRmwPerTxn));
  }
}

void load(KvStore& store, const std::vector<std::string>& keys,
          const std::vector<std::string>& values, Results& results) {
  std::vector<uint32_t> order(kLoadKeys);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(kSeed + 1);
  std::shuffle(order.begin(), order.end(), rng);
  Clock::time_point start = Clock::now();
  for (int i = 0; i < kLoadKeys; i += kLoadPerTxn) {
    store.begin_write();
    for (int j = i; j < i + kLoadPerTxn; ++j) {
      store.put(Bucket::kData, keys[order[j]], values[order[j]]);
    }
    store.commit();
  }
  results.load_puts_per_s = kLoadKeys / seconds_since(start);
}

void random_gets(KvStore& store, const std::vector<std::string>& keys, Results& results) {
  std::vector<uint32_t> picks(kGets);
  std::mt19937_64 rng(kSeed + 2);
  for (uint32_t& pick : picks) {
    pick = static_cast<uint32_t>(rng() % kLoadKeys);
  }
  std::string value;
  auto check = [&](bool found, const std::string& key) {
    if (!found || !value_matches(key, value)) {
      die("get " + key + ": missing or wrong value");
    }
  };

  Clock::time_point start = Clock::now();
  for (int i = 0; i < kGets; i += kGetsPerTxn) {
    store.begin_read();
    for (int j = i; j < i + kGetsPerTxn; ++j) {
      const std::string& key = keys[picks[j]];
      check(store.get(Bucket::kData, key, &value), key);
    }
    store.end_read();
  }
  results.batched_gets_per_s = kGets / seconds_since(start);

  start = Clock::now();
  for (int i = 0; i < kGets; ++i) {
    const std::string& key = keys[picks[i]];
    check(store.get_once(Bucket::kData, key, &value), key);
  }
  results.single_gets_per_s = kGets / seconds_since(start);
}

void prefix_scans(KvStore& store, Results& results) {
  std::mt19937_64 rng(kSeed + 3);
  std::vector<std::string> prefixes;
  for (int i = 0; i < kScans; ++i) {
    char buf[16];
    int len = std::snprintf(buf, sizeof buf, "k%06d", static_cast<int>(rng() % kScanPrefixes));
    prefixes.emplace_back(buf, static_cast<size_t>(len));
  }
  std::vector<std::string> listed;
  Clock::time_point start = Clock::now();
  for (const std::string& prefix : prefixes) {
    store.scan_once(Bucket::kData, prefix, &listed);
    if (listed.size() != kScanKeys || listed.front() != prefix + "00" ||
        listed.back() != prefix + "99") {
      die("scan " + prefix + ": listed " + std::to_string(listed.size()) + " keys, expected " +
          prefix + "00.." + prefix + "99");
    }
  }
  results.scans_per_s = kScans / seconds_since(start);
}

Results run_store(const char* label, const OpenStore& open, const fs::path& dir, double seconds,
                  const std::vector<std::string>& keys, const std::vector<std::string>& values) {
  Results results;
  fs::path write_dir = dir / "write";
  fs::path load_dir = dir / "load";
  fs::create_directories(write_dir);
  fs::create_directories(load_dir);

  std::fprintf(stderr, "%s: durable single puts...\n", label);
  std::unique_ptr<KvStore> store = open(write_dir);
  results.description = store->describe();
  single_puts(*store, results);
  std::fprintf(stderr, "%s: group commit for %.1f s...\n", label, seconds);
  std::vector<uint64_t> increments = group_commit(*store, seconds, results);
  store.reset();
  store = open(write_dir);
  verify_writes(*store, increments, results.group_txns);
  store.reset();

  std::fprintf(stderr, "%s: loading %d keys...\n", label, kLoadKeys);
  store = open(load_dir);
  load(*store, keys, values, results);
  results.loaded_open = disk_usage(load_dir);
  std::fprintf(stderr, "%s: %d random gets, twice...\n", label, kGets);
  random_gets(*store, keys, results);
  std::fprintf(stderr, "%s: %d prefix scans...\n", label, kScans);
  prefix_scans(*store, results);
  store.reset();
  results.loaded_closed = disk_usage(load_dir);
  return results;
}

// --- The disk -----------------------------------------------------------

// The file system's name, refusing one in memory.
std::string check_real_disk(const fs::path& dir) {
  struct statfs sfs;
  if (::statfs(dir.c_str(), &sfs) != 0) {
    die("statfs " + dir.string() + ": " + std::strerror(errno));
  }
  constexpr long kTmpfs = 0x01021994;
  constexpr long kRamfs = static_cast<long>(0x858458f6);
  switch (static_cast<long>(sfs.f_type)) {
    case kTmpfs:
    case kRamfs:
      die(dir.string() +
          " is in memory (tmpfs/ramfs), where fsync costs nothing; give a directory on a disk");
    case 0xEF53:
      return "ext2/3/4";
    case 0x58465342:
      return "xfs";
    case static_cast<long>(0x9123683E):
      return "btrfs";
    case 0x794c7630:
      return "overlayfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "f_type 0x%lx", static_cast<long>(sfs.f_type));
      return buf;
    }
  }
}

// p50 and p99 (ms) of overwriting one 4 KiB block and fdatasync-ing it: the
// floor under a durable commit on this disk.
std::pair<double, double> fdatasync_floor(const fs::path& dir) {
  fs::path path = dir / "fdatasync-probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    die("open " + path.string() + ": " + std::strerror(errno));
  }
  std::vector<char> block(4096, 'x');
  std::vector<double> ms;
  for (int i = 0; i <= kFsyncProbes; ++i) {
    block[0] = static_cast<char>(i);
    Clock::time_point t0 = Clock::now();
    if (::pwrite(fd, block.data(), block.size(), 0) != static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      die("write+fdatasync " + path.string() + ": " + std::strerror(errno));
    }
    if (i > 0) {  // the first one allocates the block
      ms.push_back(seconds_since(t0) * 1e3);
    }
  }
  ::close(fd);
  fs::remove(path);
  return {percentile(ms, 0.50), percentile(ms, 0.99)};
}

// --- Report -------------------------------------------------------------

std::string format_value(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void print_row(const char* workload, double sqlite, double lmdb, int decimals) {
  std::string ratio = sqlite > 0 ? format_value(lmdb / sqlite, 2) + "x" : "-";
  std::printf("| %-52s | %12s | %12s | %11s |\n", workload, format_value(sqlite, decimals).c_str(),
              format_value(lmdb, decimals).c_str(), ratio.c_str());
}

void print_report(const Results& s, const Results& l, const fs::path& root,
                  const std::string& fs_name, std::pair<double, double> floor, double seconds) {
  constexpr double kMiB = 1024.0 * 1024.0;
  std::printf("| %-52s | %12s | %12s | %11s |\n", "workload", "SQLite WAL", "LMDB", "LMDB/SQLite");
  std::printf("|%s|%s|%s|%s|\n", std::string(54, '-').c_str(), std::string(14, '-').c_str(),
              std::string(14, '-').c_str(), std::string(13, '-').c_str());
  print_row("1. durable 1 put/txn (N=300): commits/s", s.single_commits_per_s,
            l.single_commits_per_s, 0);
  print_row("   begin+put+commit p50 (ms)", s.single_p50_ms, l.single_p50_ms, 2);
  print_row("   begin+put+commit p99 (ms)", s.single_p99_ms, l.single_p99_ms, 2);
  print_row("2. group commit, 64 RMW/txn: RMW/s", s.rmw_per_s, l.rmw_per_s, 0);
  print_row("   durable commits/s", s.group_commits_per_s, l.group_commits_per_s, 1);
  print_row("   (load 100k x 100 B, 1000 puts/txn: puts/s)", s.load_puts_per_s, l.load_puts_per_s,
            0);
  print_row("3. random get, 1000 gets/read txn: gets/s", s.batched_gets_per_s, l.batched_gets_per_s,
            0);
  print_row("   random get, 1 get/read txn: gets/s", s.single_gets_per_s, l.single_gets_per_s, 0);
  print_row("4. prefix scan listing 100 keys: scans/s", s.scans_per_s, l.scans_per_s, 0);
  print_row("5. on disk after load, store open: MiB", s.loaded_open.allocated_bytes / kMiB,
            l.loaded_open.allocated_bytes / kMiB, 2);
  print_row("   files, store open", s.loaded_open.files, l.loaded_open.files, 0);
  print_row("   on disk after close: MiB", s.loaded_closed.allocated_bytes / kMiB,
            l.loaded_closed.allocated_bytes / kMiB, 2);
  print_row("   files after close", s.loaded_closed.files, l.loaded_closed.files, 0);

  std::printf("\n");
  std::printf(
      "- ratio = LMDB / SQLite: above 1 favours LMDB in the rows per second, SQLite in the rows "
      "of ms, MiB and files\n");
  std::printf("- %s\n", s.description.c_str());
  std::printf("- %s\n", l.description.c_str());
  std::printf("- directory %s on %s; write 4 KiB + fdatasync: p50 %.2f ms, p99 %.2f ms (N=%d)\n",
              root.c_str(), fs_name.c_str(), floor.first, floor.second, kFsyncProbes);
  std::printf(
      "- group commit ran %.1f s: SQLite %" PRIu64 " txns, LMDB %" PRIu64
      " txns; after a reopen all %d counters of each equal their increments (sum = txns x %d) "
      "and all %d single puts read back\n",
      seconds, s.group_txns, l.group_txns, kCounters, kRmwPerTxn, kSinglePuts);
  std::printf(
      "- every get and scan checked: %d gets x 2 found their own key in the value, %d scans "
      "listed exactly prefix00..prefix99\n",
      kGets, kScans);
  std::printf(
      "- payload loaded: %d x (9 B key + %zu B value) = %.2f MiB; disk = allocated "
      "blocks (du); apparent size open: SQLite %.2f MiB, LMDB %.2f MiB\n",
      kLoadKeys, kValueBytes, kLoadKeys * (9.0 + kValueBytes) / kMiB,
      s.loaded_open.apparent_bytes / kMiB, l.loaded_open.apparent_bytes / kMiB);
  std::printf("- files open: SQLite [%s]; LMDB [%s]\n", s.loaded_open.names.c_str(),
              l.loaded_open.names.c_str());
  std::printf("- files closed: SQLite [%s]; LMDB [%s]\n", s.loaded_closed.names.c_str(),
              l.loaded_closed.names.c_str());
}

void usage() {
  std::fprintf(stderr,
               "usage: kv_store_compare [--keep] [--seconds S] [DIR]\n"
               "  DIR        where to create the stores, on a real disk (default: a fresh\n"
               "             ./kv_store_compare.XXXXXX)\n"
               "  --seconds  length of the group-commit run (default 3)\n"
               "  --keep     leave the stores in place\n");
}

}  // namespace

int main(int argc, char** argv) {
  bool keep = false;
  double seconds = 3.0;
  std::string dir_arg;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--keep") {
      keep = true;
    } else if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
      if (!(seconds > 0)) {
        die("--seconds must be positive");
      }
    } else if (arg == "-h" || arg == "--help") {
      usage();
      return 0;
    } else if (!arg.empty() && arg[0] != '-' && dir_arg.empty()) {
      dir_arg = arg;
    } else {
      usage();
      return 2;
    }
  }

  fs::path root;
  bool created_root = false;
  if (dir_arg.empty()) {
    std::string name = "kv_store_compare.XXXXXX";
    if (::mkdtemp(name.data()) == nullptr) {
      die("mkdtemp in " + fs::current_path().string() + ": " + std::strerror(errno));
    }
    root = fs::absolute(name);
    created_root = true;
  } else {
    root = fs::absolute(dir_arg);
    fs::create_directories(root);
  }
  fs::path sqlite_dir = root / "sqlite";
  fs::path lmdb_dir = root / "lmdb";
  if (fs::exists(sqlite_dir) || fs::exists(lmdb_dir)) {
    die(root.string() + " already holds sqlite/ or lmdb/: give a fresh directory");
  }
  std::string fs_name = check_real_disk(root);
  std::pair<double, double> floor = fdatasync_floor(root);

  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (uint32_t i = 0; i < kLoadKeys; ++i) {
    keys.push_back(numbered_key('k', i));
    values.push_back(make_value(keys.back()));
  }

  Results sqlite = run_store(
      "SQLite WAL", [](const fs::path& dir) { return std::make_unique<SqliteStore>(dir); },
      sqlite_dir, seconds, keys, values);
  Results lmdb = run_store(
      "LMDB", [](const fs::path& dir) { return std::make_unique<LmdbStore>(dir); }, lmdb_dir,
      seconds, keys, values);
  print_report(sqlite, lmdb, root, fs_name, floor, seconds);

  if (keep) {
    std::fprintf(stderr, "stores kept in %s\n", root.c_str());
  } else if (created_root) {
    fs::remove_all(root);
  } else {
    fs::remove_all(sqlite_dir);
    fs::remove_all(lmdb_dir);
  }
  return 0;
}

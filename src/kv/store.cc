// The store's one thread takes the requests queued while it was busy and runs
// them in one SQLite transaction, then answers them all (group commit: one
// WAL sync per round however many writers wait).
#include "rusm/kv/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace rusm::kv {
namespace {

// At most this many requests, or this many bytes of values, per transaction:
// a round's replies wait for its slowest member.
constexpr size_t kMaxGroup = 4096;
constexpr size_t kMaxGroupBytes = 64u << 20;

// A prepared statement, reset and unbound when a Use of it ends.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }

  Status prepare(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) != SQLITE_OK) {
      return Error(std::string("prepare '") + sql + "': " + sqlite3_errmsg(db));
    }
    return Status::ok();
  }

  class Use {
   public:
    explicit Use(sqlite3_stmt* s) : s_(s) {}
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    ~Use() {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
    // The bound bytes must outlive the Use (they are not copied).
    Use& text(int i, std::string_view v) {
      sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      return *this;
    }
    Use& blob(int i, std::string_view v) {
      // data() of an empty string is still non-null: a zero-length blob, not NULL.
      sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      return *this;
    }
    Use& integer(int i, int64_t v) {
      sqlite3_bind_int64(s_, i, v);
      return *this;
    }
    int step() { return sqlite3_step(s_); }
    std::string column(int i) const {
      const void* p = sqlite3_column_blob(s_, i);
      int n = sqlite3_column_bytes(s_, i);
      return n > 0 ? std::string(static_cast<const char*>(p), static_cast<size_t>(n))
                   : std::string();
    }

   private:
    sqlite3_stmt* s_;
  };
  Use use() { return Use(s_); }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// The bytes of keys and values a request holds: what the queue's and a
// round's bounds count.
size_t request_bytes(const Request& r) {
  size_t n = r.bucket.size() + r.key.size() + r.value.size() + r.after.size() +
             (r.expected ? r.expected->size() : 0);
  for (const BatchOp& op : r.batch) {
    n += op.key.size() + op.value.size();
  }
  return n;
}

bool is_write(const Request& r) {
  return r.op != Request::Op::kGet && r.op != Request::Op::kList;
}

// The smallest key greater than every key starting with `prefix`, or "" if
// there is none (an empty prefix, or one of only 0xff bytes).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
    prefix.pop_back();
  }
  if (!prefix.empty()) {
    prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  }
  return prefix;
}

// A value incr can add to: optional '-', then 1-19 digits, in range.
std::optional<int64_t> parse_integer(std::string_view s) {
  int64_t v = 0;
  if (s.empty() || s.size() > 20 || s.front() == '+') {
    return std::nullopt;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

const char* code_name(Code c) {
  switch (c) {
    case Code::kOk:
      return "ok";
    case Code::kNotFound:
      return "not found";
    case Code::kConflict:
      return "conflict";
    case Code::kNotInteger:
      return "not an integer";
    case Code::kOverflow:
      return "integer overflow";
    case Code::kInvalid:
      return "invalid request";
    case Code::kBusy:
      return "busy";
    case Code::kIo:
      return "I/O error";
    case Code::kClosed:
      return "closed";
  }
  return "?";
}

Request Request::get(std::string bucket, std::string key) {
  Request r;
  r.op = Op::kGet;
  r.bucket = std::move(bucket);
  r.key = std::move(key);
  return r;
}
Request Request::put(std::string bucket, std::string key, std::string value) {
  Request r = get(std::move(bucket), std::move(key));
  r.op = Op::kPut;
  r.value = std::move(value);
  return r;
}
Request Request::del(std::string bucket, std::string key) {
  Request r = get(std::move(bucket), std::move(key));
  r.op = Op::kDelete;
  return r;
}
Request Request::incr(std::string bucket, std::string key, int64_t delta) {
  Request r = get(std::move(bucket), std::move(key));
  r.op = Op::kIncr;
  r.delta = delta;
  return r;
}

struct Store::Impl {
  struct Pending {
    Request request;
    Done done;
    size_t bytes = 0;  // request_bytes(request)
  };

  StoreOptions opt;
  sqlite3* db = nullptr;
  Stmt begin_read, begin_write, commit, rollback;
  Stmt get, put, del, list_bounded, list_open;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;
  size_t queued_bytes = 0;  // of the requests in `queue`
  bool stopping = false;
  std::thread thread;

  std::atomic<uint64_t> answered{0}, commits{0}, failed{0};
  // The first SQLite error of the running transaction ("" if none).
  std::string sql_error;

  ~Impl() {
    // The statements are finalized after this body (they are members);
    // sqlite3_close_v2 defers the close until they are.
    if (db != nullptr) {
      sqlite3_close_v2(db);
    }
  }

  Status exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg != nullptr ? msg : sqlite3_errmsg(db);
      sqlite3_free(msg);
      return Error(std::string(sql) + ": " + m);
    }
    return Status::ok();
  }

  bool fail(int rc) {
    if (sql_error.empty()) {
      sql_error = sqlite3_errstr(rc);
    }
    return false;
  }

  // Each returns false on an SQLite error (recorded in sql_error).
  bool read(const std::string& bucket, const std::string& key, std::optional<std::string>& out) {
    auto u = get.use();
    u.text(1, bucket).blob(2, key);
    int rc = u.step();
    if (rc == SQLITE_ROW) {
      out = u.column(0);
      return true;
    }
    out.reset();
    return rc == SQLITE_DONE || fail(rc);
  }
  bool write(const std::string& bucket, const std::string& key, const std::string& value) {
    auto u = put.use();
    u.text(1, bucket).blob(2, key).blob(3, value);
    int rc = u.step();
    return rc == SQLITE_DONE || fail(rc);
  }
  bool erase(const std::string& bucket, const std::string& key, bool& existed) {
    auto u = del.use();
    u.text(1, bucket).blob(2, key);
    int rc = u.step();
    existed = sqlite3_changes(db) > 0;
    return rc == SQLITE_DONE || fail(rc);
  }

  bool apply(Request& r, Reply& out) {
    using Op = Request::Op;
    std::optional<std::string> cur;
    switch (r.op) {
      case Op::kGet:
        if (!read(r.bucket, r.key, cur)) {
          return false;
        }
        if (cur) {
          out.value = std::move(*cur);
        } else {
          out.code = Code::kNotFound;
        }
        return true;
      case Op::kPut:
        return write(r.bucket, r.key, r.value);
      case Op::kDelete: {
        bool existed = false;
        if (!erase(r.bucket, r.key, existed)) {
          return false;
        }
        out.code = existed ? Code::kOk : Code::kNotFound;
        return true;
      }
      case Op::kCas:
        if (!read(r.bucket, r.key, cur)) {
          return false;
        }
        if (cur != r.expected) {
          out.code = Code::kConflict;
          return true;
        }
        if (r.cas_delete) {
          bool existed = false;
          return erase(r.bucket, r.key, existed);
        }
        return write(r.bucket, r.key, r.value);
      case Op::kIncr: {
        if (!read(r.bucket, r.key, cur)) {
          return false;
        }
        int64_t v = 0;
        if (cur) {
          std::optional<int64_t> parsed = parse_integer(*cur);
          if (!parsed) {
            out.code = Code::kNotInteger;
            return true;
          }
          v = *parsed;
        }
        if (__builtin_add_overflow(v, r.delta, &v)) {
          out.code = Code::kOverflow;
          return true;
        }
        out.number = v;
        return write(r.bucket, r.key, std::to_string(v));
      }
      case Op::kList:
        return list(r, out);
      case Op::kBatch:
        return batch(r, out);
    }
    return true;
  }

  bool list(const Request& r, Reply& out) {
    size_t limit = opt.max_list;
    if (r.limit != 0 && r.limit < limit) {
      limit = r.limit;
    }
    std::string end = prefix_end(r.key);
    Stmt& s = end.empty() ? list_open : list_bounded;
    auto u = s.use();
    u.text(1, r.bucket).blob(2, r.key).blob(3, r.after).integer(4, static_cast<int64_t>(limit) + 1);
    if (!end.empty()) {
      u.blob(5, end);
    }
    int rc;
    size_t bytes = 0;
    while ((rc = u.step()) == SQLITE_ROW) {
      std::string key = u.column(0), value = r.with_values ? u.column(1) : std::string();
      bytes += key.size() + value.size();
      bool over = r.max_bytes != 0 && bytes > r.max_bytes && !out.entries.empty();
      if (out.entries.size() == limit || over) {
        out.more = true;
        break;
      }
      out.entries.emplace_back(std::move(key), std::move(value));
    }
    return rc == SQLITE_ROW || rc == SQLITE_DONE || fail(rc);
  }

  bool batch(const Request& r, Reply& out) {
    using Kind = BatchOp::Kind;
    for (size_t i = 0; i < r.batch.size(); ++i) {
      const BatchOp& op = r.batch[i];
      if (op.kind != Kind::kCheck && op.kind != Kind::kCheckAbsent) {
        continue;
      }
      std::optional<std::string> cur;
      if (!read(r.bucket, op.key, cur)) {
        return false;
      }
      bool holds = op.kind == Kind::kCheck ? cur == op.value : !cur.has_value();
      if (!holds) {
        out.code = Code::kConflict;
        out.number = static_cast<int64_t>(i);
        return true;
      }
    }
    for (const BatchOp& op : r.batch) {
      bool existed = false;
      if (op.kind == Kind::kPut && !write(r.bucket, op.key, op.value)) {
        return false;
      }
      if (op.kind == Kind::kDelete && !erase(r.bucket, op.key, existed)) {
        return false;
      }
    }
    return true;
  }

  // Runs `group` in one transaction and answers it.
  void run(std::vector<Pending>& group) {
    bool writes = false;
    for (const Pending& p : group) {
      writes = writes || is_write(p.request);
    }
    std::vector<Reply> replies(group.size());
    sql_error.clear();
    int rc = (writes ? begin_write : begin_read).use().step();
    bool ok = rc == SQLITE_DONE || fail(rc);
    for (size_t i = 0; ok && i < group.size(); ++i) {
      ok = apply(group[i].request, replies[i]);
    }
    if (ok) {
      rc = commit.use().step();
      ok = rc == SQLITE_DONE || fail(rc);
    }
    if (!ok) {
      if (!sqlite3_get_autocommit(db)) {
        (void)rollback.use().step();
      }
      failed.fetch_add(1, std::memory_order_relaxed);
      for (Reply& r : replies) {
        r = Reply{};
        r.code = Code::kIo;
        r.value = sql_error;
      }
    } else if (writes) {
      commits.fetch_add(1, std::memory_order_relaxed);
    }
    answered.fetch_add(group.size(), std::memory_order_relaxed);
    for (size_t i = 0; i < group.size(); ++i) {
      group[i].done(std::move(replies[i]));
    }
  }

  void loop() {
    std::vector<Pending> group;
    for (;;) {
      group.clear();
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) {
          return;  // stopping, and everything answered
        }
        size_t bytes = 0;
        while (!queue.empty() && group.size() < kMaxGroup && bytes < kMaxGroupBytes) {
          bytes += queue.front().bytes;
          queued_bytes -= queue.front().bytes;
          group.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      run(group);
    }
  }

  bool valid(const Request& r) const {
    auto key_ok = [&](const std::string& k) { return !k.empty() && k.size() <= opt.max_key; };
    if (r.bucket.empty() || r.bucket.size() > opt.max_bucket) {
      return false;
    }
    switch (r.op) {
      case Request::Op::kGet:
      case Request::Op::kDelete:
      case Request::Op::kIncr:
        return key_ok(r.key);
      case Request::Op::kPut:
        return key_ok(r.key) && r.value.size() <= opt.max_value;
      case Request::Op::kCas:
        return key_ok(r.key) && r.value.size() <= opt.max_value &&
               (!r.expected || r.expected->size() <= opt.max_value);
      case Request::Op::kList:
        return r.key.size() <= opt.max_key && r.after.size() <= opt.max_key;
      case Request::Op::kBatch: {
        if (r.batch.size() > opt.max_batch) {
          return false;
        }
        size_t bytes = 0;
        for (const BatchOp& op : r.batch) {
          bytes += op.value.size();
          bool kind_ok = op.kind >= BatchOp::Kind::kPut && op.kind <= BatchOp::Kind::kCheckAbsent;
          if (!kind_ok || !key_ok(op.key) || op.value.size() > opt.max_value) {
            return false;
          }
        }
        return bytes <= kMaxGroupBytes;
      }
    }
    return false;
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Store>> Store::open(StoreOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  const std::filesystem::path& path = impl->opt.path;
  auto where = [&](const std::string& what) {
    return Error("kv store " + path.string() + ": " + what);
  };
  if (path.empty()) {
    return where("no path");
  }
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return where("cannot create its directory: " + ec.message());
    }
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &impl->db, flags, nullptr) != SQLITE_OK) {
    return where(impl->db != nullptr ? sqlite3_errmsg(impl->db) : "cannot open");
  }
  sqlite3_extended_result_codes(impl->db, 1);
  // Exclusive locking: one node owns the file (a second one fails below,
  // instead of interleaving commits), and the WAL index lives in the heap.
  // synchronous=FULL: the WAL is synced at every commit, so an answered
  // write survives a power loss, not only a crash of the node.
  for (const char* sql :
       {"PRAGMA locking_mode=EXCLUSIVE", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
        "CREATE TABLE IF NOT EXISTS kv(bucket TEXT NOT NULL, key BLOB NOT NULL, "
        "value BLOB NOT NULL, PRIMARY KEY(bucket, key)) WITHOUT ROWID",
        "BEGIN IMMEDIATE", "COMMIT"}) {
    if (Status s = impl->exec(sql); !s) {
      bool locked = sqlite3_errcode(impl->db) == SQLITE_BUSY;
      return where(locked ? "in use by another process" : s.message());
    }
  }
  if (impl->opt.max_bytes != 0) {
    // SQLite's pages are 4 KiB by default; the bound is rounded down to them
    // (at least the pages the file already has, which SQLite keeps).
    std::string sql = "PRAGMA max_page_count=" +
                      std::to_string(std::max<uint64_t>(impl->opt.max_bytes / 4096, 1));
    if (Status s = impl->exec(sql.c_str()); !s) {
      return where(s.message());
    }
  }
  Impl& i = *impl;
  struct {
    Stmt& stmt;
    const char* sql;
  } statements[] = {
      {i.begin_read, "BEGIN"},
      {i.begin_write, "BEGIN IMMEDIATE"},
      {i.commit, "COMMIT"},
      {i.rollback, "ROLLBACK"},
      {i.get, "SELECT value FROM kv WHERE bucket = ?1 AND key = ?2"},
      {i.put,
       "INSERT INTO kv(bucket, key, value) VALUES(?1, ?2, ?3) "
       "ON CONFLICT(bucket, key) DO UPDATE SET value = excluded.value"},
      {i.del, "DELETE FROM kv WHERE bucket = ?1 AND key = ?2"},
      {i.list_open,
       "SELECT key, value FROM kv WHERE bucket = ?1 AND key >= ?2 AND key > ?3 "
       "ORDER BY key LIMIT ?4"},
      {i.list_bounded,
       "SELECT key, value FROM kv WHERE bucket = ?1 AND key >= ?2 AND key > ?3 AND key < ?5 "
       "ORDER BY key LIMIT ?4"},
  };
  for (auto& s : statements) {
    if (Status st = s.stmt.prepare(i.db, s.sql); !st) {
      return where(st.message());
    }
  }
  impl->thread = std::thread([p = impl.get()] { p->loop(); });
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::~Store() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
  impl_->thread.join();
}

void Store::submit(Request r, Done done) {
  Impl& i = *impl_;
  Code refused = Code::kOk;
  if (!i.valid(r)) {
    refused = Code::kInvalid;
  } else {
    std::unique_lock lock(i.mu);
    if (i.stopping) {
      refused = Code::kClosed;
    } else if (size_t bytes = request_bytes(r); i.queue.size() >= i.opt.max_queued ||
                                                i.queued_bytes + bytes > i.opt.max_queued_bytes) {
      refused = Code::kBusy;
    } else {
      bool was_empty = i.queue.empty();
      i.queued_bytes += bytes;
      i.queue.push_back({std::move(r), std::move(done), bytes});
      lock.unlock();
      if (was_empty) {
        i.cv.notify_one();
      }
      return;
    }
  }
  Reply reply;
  reply.code = refused;
  done(std::move(reply));
}

Reply Store::call(Request r) {
  std::promise<Reply> p;
  std::future<Reply> f = p.get_future();
  submit(std::move(r), [&p](Reply reply) { p.set_value(std::move(reply)); });
  return f.get();
}

const StoreOptions& Store::options() const {
  return impl_->opt;
}

StoreStats Store::stats() const {
  return {impl_->answered.load(std::memory_order_relaxed),
          impl_->commits.load(std::memory_order_relaxed),
          impl_->failed.load(std::memory_order_relaxed)};
}

}  // namespace rusm::kv

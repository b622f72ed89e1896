// A node's durable key-value store: named buckets of byte-string keys and
// values, on SQLite in WAL mode with synchronous=FULL (docs/kv.md says why
// SQLite rather than LMDB, with the measurement that decided it).
//
// Every request is answered after the transaction that ran it has committed
// and its write-ahead log has been synced: an answered write is durable
// (it survives the process being killed, and the machine losing power). One
// thread owns the database; it takes every request queued while the previous
// commit was syncing and runs them all in one transaction (group commit), so
// N concurrent writers pay one fsync per round, not N. Requests run in the
// order they were submitted, and a request sees every write submitted before
// it.
//
// A failed transaction (disk full, an I/O error) is rolled back whole: each
// request in it is answered kIo, and none of them is applied.
//
// Thread-safety: submit() and call() may be called from any thread. The
// callback of submit() runs on the store's thread and must not block (post
// the reply somewhere and return).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rusm/result.h"

namespace rusm::kv {

struct StoreOptions {
  // The database file; created with its directory if missing.
  std::filesystem::path path;
  size_t max_bucket = 255;       // bytes of a bucket name (never empty)
  size_t max_key = 1024;         // bytes of a key (never empty)
  size_t max_value = 1u << 20;   // bytes of a value
  size_t max_batch = 1024;       // operations in one batch
  size_t max_list = 1000;        // entries one list returns
  size_t max_queued = 1u << 16;  // requests waiting; beyond, kBusy
  // Bytes of keys and values waiting in those requests; beyond, kBusy (so
  // that writers flooding a slow disk cannot grow the node's memory).
  size_t max_queued_bytes = 256u << 20;
  // Bytes the database file may grow to (0: no bound). A transaction that
  // would grow it further fails whole, as a full disk does (kIo).
  uint64_t max_bytes = 0;
};

enum class Code : int32_t {
  kOk = 0,
  kNotFound,    // get/delete: no such key
  kConflict,    // cas or a batch's check: the key holds another value
  kNotInteger,  // incr: the value is not a decimal int64
  kOverflow,    // incr: the sum does not fit an int64
  kInvalid,     // an empty or oversized bucket, key or value; a bad batch
  kBusy,        // too many requests queued (StoreOptions::max_queued)
  kIo,          // the transaction failed (disk full, I/O): nothing applied
  kClosed,      // the store is shutting down
};
const char* code_name(Code c);

// One step of an atomic batch.
struct BatchOp {
  enum class Kind : uint8_t {
    kPut = 1,
    kDelete = 2,       // deleting a missing key is not an error in a batch
    kCheck = 3,        // the key must hold `value`
    kCheckAbsent = 4,  // the key must not exist
  };
  Kind kind = Kind::kPut;
  std::string key, value;
};

struct Request {
  enum class Op : uint8_t { kGet, kPut, kDelete, kCas, kIncr, kList, kBatch };
  Op op = Op::kGet;
  std::string bucket;
  std::string key;    // get, put, delete, cas, incr
  std::string value;  // put; cas: the new value
  // cas: the value the key must hold (nullopt: it must be absent); the swap
  // writes `value`, or deletes the key if `cas_delete`.
  std::optional<std::string> expected;
  bool cas_delete = false;
  int64_t delta = 0;  // incr
  // list: the keys starting with `key` (a prefix, may be empty) and greater
  // than `after` (empty: from the first), in byte order, at most `limit`
  // (and StoreOptions::max_list); with their values if `with_values`.
  std::string after;
  uint32_t limit = 0;
  bool with_values = false;
  // list: stop before the entries' keys and values pass this many bytes
  // (0: no bound); the first entry always comes.
  size_t max_bytes = 0;
  std::vector<BatchOp> batch;  // batch: checks first, then the writes

  static Request get(std::string bucket, std::string key);
  static Request put(std::string bucket, std::string key, std::string value);
  static Request del(std::string bucket, std::string key);
  static Request incr(std::string bucket, std::string key, int64_t delta);
};

struct Reply {
  Code code = Code::kOk;
  std::string value;   // get
  int64_t number = 0;  // incr: the new value; batch kConflict: the check's index
  std::vector<std::pair<std::string, std::string>> entries;  // list
  bool more = false;  // list: there are keys after the last entry
};

struct StoreStats {
  uint64_t requests = 0;  // answered
  uint64_t commits = 0;   // transactions that wrote (each one sync)
  uint64_t failed = 0;    // transactions rolled back (kIo)
};

class Store {
 public:
  using Done = std::function<void(Reply)>;

  // Opens (creating if needed) the database at options.path and starts the
  // store's thread. Errors name the file and SQLite's reason.
  static Result<std::unique_ptr<Store>> open(StoreOptions options);

  // Answers every request already submitted, then closes the database.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Queues `r`; `done` gets the reply once it is committed (on the store's
  // thread), or at once (on this thread) if the request is invalid, the
  // queue is full or the store is closing.
  void submit(Request r, Done done);
  // submit() and wait for the reply.
  Reply call(Request r);

  const StoreOptions& options() const;
  StoreStats stats() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rusm::kv

// The dashboard's web files as a fixed table, read once from the assets
// folder when the server starts (what `npm run build` produced: index.html
// and assets/*). A request is a lookup in that table and nothing else: no
// path is joined, opened or stat'ed while serving, so no request can reach a
// file outside the table (`//etc/passwd`, `/../x`, `%2e%2e`, `/dev/zero`).
//
// Loading takes regular files only (symlinks, devices, FIFOs and sockets are
// skipped), names made of [A-Za-z0-9._-] that do not start with a dot, at
// most kMaxDepth folders deep, each at most max_file_bytes and all together at
// most max_total_bytes; a folder with more than max_files files is refused,
// since it is not a dashboard build.
//
// Immutable after load: find() is safe from any thread.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "rusm/result.h"

namespace rusm::observe {

struct StaticFile {
  std::string body;
  const char* content_type = "application/octet-stream";
  bool immutable = false;  // under assets/: Vite fingerprints the names, cache forever
};

struct StaticLimits {
  size_t max_files = 512;
  size_t max_file_bytes = 16 << 20;
  size_t max_total_bytes = 64 << 20;
};

class StaticFiles {
 public:
  static constexpr int kMaxDepth = 6;

  StaticFiles() = default;  // empty: every lookup misses
  // Reads the table from `dir`. Errors name the folder and the problem
  // ("cannot open", "more than 512 entries: not a dashboard build"); when the
  // folder itself cannot be opened, the error's code is the errno.
  static Result<StaticFiles> load(const std::string& dir, StaticLimits limits = {});

  // The file for a request path ("/" and "/x/" mean their index.html), or
  // null. The path is the target without its query, as received (not
  // percent-decoded: the table's names need no escaping).
  const StaticFile* find(std::string_view path) const;
  size_t size() const { return files_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  std::map<std::string, StaticFile, std::less<>> files_;  // "index.html", "assets/x.js"
  size_t bytes_ = 0;
};

// The Content-Type for a file name, by extension.
const char* content_type_for(std::string_view name);

}  // namespace rusm::observe

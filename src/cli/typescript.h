// `rusm run app.ts`: a TypeScript app is compiled ahead of time by esbuild
// (npm, put in /opt/rusm/toolchains/esbuild by scripts/bootstrap.sh) into one
// ES module, which then runs as a JavaScript app (docs/js.md, "TypeScript").
// The bundle is cached, keyed by a SHA-256 of everything esbuild read, so a
// second run of an unchanged app does not call esbuild.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rusm/result.h"

namespace rusm::cli {

// .ts or .mts.
bool is_typescript(const std::string& path);

// A compiled app: one ES module, and where its lines came from (esbuild's
// source map, read for the first mapping of each generated line).
struct TsBundle {
  std::string js;
  // origin[i]: the source file and 1-based line of line i + 1 of `js`; an
  // empty file name for a line esbuild generated (its helpers).
  std::vector<std::pair<std::string, uint32_t>> origin;

  // "NAME:LINE: rest" (QuickJS's error line, NAME the name the bundle ran
  // under) with LINE of the bundle replaced by the source file and its line;
  // any other text unchanged.
  std::string map_error(const std::string& line, const std::string& name) const;
};

// The compiled JavaScript of `entry` (and the .ts files it imports, bundled;
// `rusm` stays an import), from the cache or compiled now. Errors carry exit
// status 2 as their code; esbuild's own messages went to stderr first.
Result<TsBundle> compile_typescript(const std::string& entry);

}  // namespace rusm::cli

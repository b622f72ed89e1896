// The JavaScript runtime that `rusm run app.js` starts (docs/js.md): the
// module rusm-js.wasm, QuickJS with rusm's JS API, embedded in the binary at
// build time (src/cli/CMakeLists.txt). Immutable; safe from any thread.
#pragma once

#include <cstdint>
#include <span>

namespace rusm::cli {

// The module's bytes; empty when rusm was built without the QuickJS sources
// (scripts/bootstrap.sh fetches them).
std::span<const uint8_t> js_runtime_wasm();

// The message that hands a JS process its script: rusm/serve/js.h.

}  // namespace rusm::cli

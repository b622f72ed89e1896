// JavaScript processes from the host's side (guest/js/rusm_js.c, docs/js.md):
// the boot message that hands a JS process (rusm-js.wasm) its script.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rusm::serve {

// The boot message's tag: reserved by convention, above every JS integer
// tag, so no JavaScript code can send one.
inline constexpr uint64_t kJsBootTag = 0x524A53424F4F5401ull;

// True for a path that names a JavaScript module (.js, .mjs) or a
// TypeScript one (.ts, .mts: compiled to JavaScript first).
bool is_javascript(std::string_view path);
bool is_typescript(std::string_view path);

// The boot message of a JS process booted from its script (version 1): the
// script's name and source; for a route's template, then the name of the
// export that handles a request (u32 length + bytes).
std::string js_boot_message(std::string_view name, std::span<const uint8_t> source,
                            std::string_view handler = {});

}  // namespace rusm::serve

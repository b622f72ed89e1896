// Fuzzes decoding, validation and compilation: any byte string must give a
// module or a clean error, never a crash, a hang or unbounded memory.
#include <cstddef>
#include <cstdint>
#include <span>

#include "rusm/wasm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto module = rusm::wasm::Module::compile(std::span<const uint8_t>(data, size));
  if (module.is_ok()) {
    // Touch what `rusm wasm inspect` reads.
    const auto& m = **module;
    for (uint32_t i = 0; i < m.num_functions(); ++i) {
      (void)m.func_type(i);
      (void)m.func_name(i);
    }
    (void)m.imports();
    (void)m.exports();
    (void)m.sections();
  } else if (module.error().message().empty()) {
    __builtin_trap();  // every error must say what went wrong
  }
  return 0;
}

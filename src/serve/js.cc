// The boot message of a JS process (include/rusm/serve/js.h); its layout is
// read by guest/js/rusm_js.c (read_boot_prefix, js_template).
#include "rusm/serve/js.h"

namespace rusm::serve {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

}  // namespace

bool is_typescript(std::string_view path) {
  return path.ends_with(".ts") || path.ends_with(".mts");
}

bool is_javascript(std::string_view path) {
  return path.ends_with(".js") || path.ends_with(".mjs") || is_typescript(path);
}

std::string js_boot_message(std::string_view name, std::span<const uint8_t> source,
                            std::string_view handler) {
  std::string m;
  m.reserve(16 + name.size() + source.size() + handler.size());
  put_u32(m, 1);
  put_u32(m, static_cast<uint32_t>(name.size()));
  put_u32(m, static_cast<uint32_t>(source.size()));
  m += name;
  m.append(source.begin(), source.end());
  if (!handler.empty()) {
    put_u32(m, static_cast<uint32_t>(handler.size()));
    m += handler;
  }
  return m;
}

}  // namespace rusm::serve

// libFuzzer target: bytes -> the cluster frame decoder (src/cluster/frame.h).
//
// The input is fed to a streaming Decoder (max frame 1 MiB) in chunks whose
// sizes come from the input's first byte, to reach the partial-header and
// partial-body states. Every frame decoded is re-encoded and decoded again,
// and must come back equal. The decoder must never crash, hang or read out of
// bounds (ASan/UBSan watch it); errors are expected.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cluster/frame.h"

using namespace rusm::cluster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  size_t chunk = 1 + data[0] % 17;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  Decoder d(1 << 20);
  for (size_t at = 0; at < in.size(); at += chunk) {
    d.feed(in.substr(at, chunk));
    while (true) {
      auto r = d.next();
      if (!r || !r->has_value()) {
        break;
      }
      const Frame& f = **r;
      std::string again;
      encode(f, again);
      Decoder d2(1 << 20);
      d2.feed(again);
      auto r2 = d2.next();
      if (!r2 || !r2->has_value() || !(**r2 == f)) {
        std::abort();  // encode and decode disagree
      }
    }
    if (d.failed()) {
      break;
    }
  }
  return 0;
}

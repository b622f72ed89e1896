// validate_function() for any CodeGen, through its virtual calls; the
// implementation is in validator_impl.h.
#include "wasm/validator.h"

#include "wasm/validator_impl.h"

namespace rusm::wasm {

Status validate_function(const ModuleIR& ir, uint32_t def_index, CodeGen& gen) {
  return validate_body(ir, def_index, gen);
}

}  // namespace rusm::wasm

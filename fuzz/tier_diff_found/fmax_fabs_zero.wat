;; Found by tier_diff_check (seed 2864 of `tier_diff_check --first 2000
;; --seeds 8000 --keep-going`), minimized by hand. FIXED: with fmin/fmax
;; written out as fcmp + select (the first fix of fmin_fmax_snan.wat),
;; LLVM 19's InstCombine folded max(0.0, fabs(x)) to
;; select(fcmp ugt x, 0.0, fabs x, 0.0), which is 0 for every negative x.
;; src/wasm/llvm/float_ops.h now tests for NaNs on the bits and leaves
;; ordered operands to llvm.maximum.
(module
  (global $g (mut f32) (f32.const -20))
  (func (export "max_global") (result f32)
    f32.const 0
    global.get $g
    f32.abs
    f32.max)
  (func (export "max_param") (param f64) (result f64)
    f64.const 0
    local.get 0
    f64.abs
    f64.max)
  (func (export "min_param") (param f64) (result f64)
    f64.const -0
    local.get 0
    f64.abs
    f64.neg
    f64.min))

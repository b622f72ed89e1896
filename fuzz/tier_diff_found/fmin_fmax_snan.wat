;; Found by tier_diff_check (seed 1546 of `tier_diff_check --first 1000
;; --seeds 4000 --keep-going`), minimized by hand. FIXED: min and max are
;; written out in src/wasm/llvm/float_ops.h instead of llvm.minimum/maximum;
;; ctest spec.tier_diff_found.fmin_fmax_snan keeps it fixed.
;;
;; f32.min / f32.max / f64.min / f64.max of a *signaling* NaN (quiet bit
;; clear, e.g. f32 0x7fa00007) and an operand that LLVM can prove is never a
;; NaN (here an f32.convert_i32_u) return the non-NaN operand under the
;; compiled tier; the spec (and the interpreter) return a NaN. A quiet NaN
;; in the same place, or an operand that may be a NaN (a parameter), gives
;; the right answer. The NaN may come from anywhere at run time (a
;; reinterpreted parameter below, a global, a load).
;;
;;   build/tests/spec/tier_diff_check --file fmin_fmax_snan.wasm
;;     (wat2wasm fmin_fmax_snan.wat first)
;;   interpreter returned [i32:2145386503]   (0x7fe00007: a NaN)
;;   compiled    returned [i32:1088421888]   (0x40e00000: 7.0)
;;
;; tier_diff_check calls each export with the fixed arguments of tier_diff.cc
;; (the i32 parameter is 7).
(module
  (func (export "min_snan") (param i32) (result i32)
    ;; min(reinterpret(7 | 0x7fa00000) = sNaN, f32(7)) -> must be a NaN
    local.get 0
    i32.const 0x7fa00000
    i32.or
    f32.reinterpret_i32
    local.get 0
    f32.convert_i32_u
    f32.min
    i32.reinterpret_f32)
  (func (export "max_snan") (param i32) (result f32)
    local.get 0
    i32.const 0x7fa00000
    i32.or
    f32.reinterpret_i32
    local.get 0
    f32.convert_i32_u
    f32.max)
  (func (export "min_snan_f64") (param i32) (result f64)
    local.get 0
    i64.extend_i32_u
    i64.const 0x7ff4000000000000
    i64.or
    f64.reinterpret_i64
    local.get 0
    f64.convert_i32_u
    f64.min))

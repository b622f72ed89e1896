;; Loops that the compiled tier runs without their guards when one check
;; before the loop proves them (src/wasm/llvm/loop_guards.h), and loops
;; where the proof must fail: each result is compared with the interpreter's
;; (loops_test.cc).
(module
  (memory (export "memory") 2 4)

  ;; dst[i] += k * src[i] over f64, n elements: the vectorizable shape.
  (func (export "axpy") (param $dst i32) (param $src i32) (param $n i32) (param $k f64)
    (local $i i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $next
        (f64.store (local.get $dst)
          (f64.add (f64.load (local.get $dst))
                   (f64.mul (local.get $k) (f64.load (local.get $src)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (br_if $next (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                             (local.get $n))))))

  ;; Byte copy downwards (a negative step), with a store offset.
  (func (export "copy_down") (param $dst i32) (param $src i32) (param $n i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $next
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (i32.store8 offset=3 (i32.add (local.get $dst) (local.get $n))
                    (i32.load8_u (i32.add (local.get $src) (local.get $n))))
        (br_if $next (local.get $n)))))

  ;; Stores i at 32-bit address start + 8 i for i = 0 .. n-1, skipping the
  ;; first `skip` iterations: with start near 2^32 the address wraps around
  ;; to low memory mid-loop, which the proof must see.
  (func (export "wrap_store") (param $start i32) (param $n i32) (param $skip i32)
    (local $i i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $next
        (if (i32.ge_u (local.get $i) (local.get $skip))
          (then (i64.store (i32.add (local.get $start) (i32.shl (local.get $i) (i32.const 3)))
                           (i64.extend_i32_u (local.get $i)))))
        (br_if $next (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                             (local.get $n))))))

  ;; Sums n i32s from addr: a loop with loads only.
  (func (export "sum") (param $addr i32) (param $n i32) (result i32) (local $s i32) (local $i i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $next
        (local.set $s (i32.add (local.get $s)
                               (i32.load (i32.add (local.get $addr)
                                                  (i32.shl (local.get $i) (i32.const 2))))))
        (br_if $next (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                             (local.get $n)))))
    (local.get $s))

  ;; Writes byte i & 255 at addr + i for i < n: fills a range for the dirty
  ;; accounting check.
  (func (export "fill_bytes") (param $addr i32) (param $n i32) (local $i i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $next
        (i32.store8 (i32.add (local.get $addr) (local.get $i)) (local.get $i))
        (br_if $next (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                             (local.get $n))))))
)

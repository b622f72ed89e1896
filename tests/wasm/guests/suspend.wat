;; A guest that calls a host function which suspends, many times, and at the
;; bottom of a deep recursion: the frames must survive off the native stack.
(module
  (import "env" "next" (func $next (param i32) (result i32)))
  ;; sum(n) = sum over i < n of next(i)
  (func $sum (export "sum") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i32.add (local.get $acc) (call $next (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $acc))
  ;; deep(d): recurses d levels, calls next(d) at the bottom, and adds 1 per level
  (func $deep (export "deep") (param $d i32) (result i32)
    (if (result i32) (i32.eqz (local.get $d))
      (then (call $next (i32.const 0)))
      (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get $d) (i32.const 1))))))))

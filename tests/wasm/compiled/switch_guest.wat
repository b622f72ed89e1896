;; A running call switches to compiled code at function entry
;; (Module::adopt_native_code; switch_test.cc): a driver loop calls a step
;; function, directly and through the table, that waits for the host,
;; writes memory and a global.
(module
  (import "host" "wait" (func $wait (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (table 1 funcref)
  (elem (i32.const 0) $step)
  (type $i2i (func (param i32) (result i32)))

  ;; One round: asks the host, stores its answer at n*4, counts the round in
  ;; the global, returns answer + n.
  (func $step (export "step") (param $n i32) (result i32) (local $r i32)
    (local.set $r (call $wait (local.get $n)))
    (i32.store (i32.mul (local.get $n) (i32.const 4)) (local.get $r))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.add (local.get $r) (local.get $n)))

  ;; Sums step(i) for i in [0, rounds): odd rounds through call_indirect.
  (func (export "driver") (param $rounds i32) (result i32) (local $i i32) (local $sum i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $rounds)))
        (local.set $sum (i32.add (local.get $sum)
          (if (result i32) (i32.and (local.get $i) (i32.const 1))
            (then (call_indirect (type $i2i) (local.get $i) (i32.const 0)))
            (else (call $step (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $sum))

  (func $divide (export "divide") (param $n i32) (result i32)
    (i32.div_u (i32.const 1000) (local.get $n)))
  ;; divide(n), divide(n-1), ... down to divide(0), which traps.
  (func (export "countdown") (param $n i32) (result i32) (local $sum i32)
    (loop $again
      (local.set $sum (i32.add (local.get $sum) (call $divide (local.get $n))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $again))
    (local.get $sum))

  ;; Adds work(i) for i in [0, n): a call per round, each a loop of i steps.
  (func $work (param $k i32) (result i32) (local $acc i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $k)))
        (local.set $acc (i32.add (local.get $acc) (local.get $k)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $again)))
    (local.get $acc))
  (func (export "calls") (param $n i32) (result i32) (local $i i32) (local $sum i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $sum (i32.add (local.get $sum) (call $work (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $sum))

  (func (export "global") (result i32) (global.get $g))
)

;; The compiled tier's guarantees (compiled_test.cc): suspension at host
;; calls, fuel, traps naming the function, stack limits, dirty marks.
(module
  (import "host" "wait" (func $wait (param i32) (result i32)))
  (import "host" "trap" (func $host_trap))
  (memory (export "memory") 1 16)
  (global $g (mut i32) (i32.const 0))
  (table 4 funcref)
  (elem (i32.const 0) $square $deep_wait)
  (type $i2i (func (param i32) (result i32)))

  (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))

  ;; Recurses n levels, then asks the host (which may suspend), then adds
  ;; the level on the way back: sum(1..n) + host result.
  (func $deep_wait (export "deep_wait") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (call $wait (i32.const 7)))
      (else (i32.add (local.get $n)
                     (call_indirect (type $i2i) (i32.sub (local.get $n) (i32.const 1))
                                    (i32.const 1))))))

  ;; Waits `times` times, adding the host's answers.
  (func (export "wait_loop") (param $times i32) (result i32) (local $sum i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $times)))
        (local.set $sum (i32.add (local.get $sum) (call $wait (local.get $times))))
        (local.set $times (i32.sub (local.get $times) (i32.const 1)))
        (br $again)))
    (local.get $sum))

  (func (export "spin") (loop $l (global.set $g (i32.add (global.get $g) (i32.const 1))) (br $l)))
  (func (export "count_to") (param $n i32) (result i32) (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i))
  (func $runaway (export "runaway") (param i32) (result i32)
    (i32.add (call $runaway (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $divide (export "divide") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "oob") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "host_trap") (call $host_trap))
  (func (export "call_null") (result i32) (call_indirect (type $i2i) (i32.const 1) (i32.const 3)))
  (func (export "store") (param $addr i32) (param $v i64) (i64.store (local.get $addr) (local.get $v)))
  (func (export "fill") (param $n i32) (memory.fill (i32.const 0) (i32.const 1) (local.get $n)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "global") (result i32) (global.get $g))
)

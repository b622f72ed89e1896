;; A module whose state a snapshot must carry (tests/wasm/snapshot_test.cc):
;; memory grown and written by `init`, mutable globals (numbers and a
;; funcref), a table whose slots hold its own functions and an imported
;; host function, a dropped passive data segment, and a start function.
(module
  (import "env" "host" (func $host (result i32)))
  (import "env" "ext" (func $ext (param i32)))
  (memory (export "memory") 1 100)
  (table $t 4 16 funcref)
  (global $counter (mut i32) (i32.const 0))
  (global $wide (mut i64) (i64.const 0))
  (global $starts (mut i32) (i32.const 0))
  (global $fn (mut funcref) (ref.null func))
  (data (i32.const 16) "segment")
  (data $passive "passive bytes")
  (elem (i32.const 0) $host $seven)
  (elem declare func $nine)

  (func $seven (result i32) (i32.const 7))
  (func $nine (result i32) (i32.const 9))
  (func $start (global.set $starts (i32.add (global.get $starts) (i32.const 1))))
  (start $start)

  ;; Grows the memory to 3 pages, writes in each, sets the globals, stores
  ;; $nine in slot 2 and in $fn, and drops the passive segment.
  (func (export "init")
    (drop (memory.grow (i32.const 2)))
    (i32.store (i32.const 1000) (i32.const 0x11223344))
    (i32.store (i32.const 70000) (i32.const 0x55667788))
    (i64.store (i32.const 196600) (i64.const 0x0102030405060708))
    (memory.init $passive (i32.const 5000) (i32.const 0) (i32.const 13))
    (data.drop $passive)
    (global.set $counter (i32.const 41))
    (global.set $wide (i64.const 0x7fffffffffff))
    (table.set $t (i32.const 2) (ref.func $nine))
    (global.set $fn (ref.func $nine)))

  ;; Writes `value` at `addr`.
  (func (export "poke") (param $addr i32) (param $value i32)
    (i32.store (local.get $addr) (local.get $value)))
  (func (export "peek") (param $addr i32) (result i32)
    (i32.load (local.get $addr)))
  (func (export "peek8") (param $addr i32) (result i32)
    (i32.load8_u (local.get $addr)))
  (func (export "bump") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (global.get $counter))
  (func (export "wide") (result i64) (global.get $wide))
  (func (export "starts") (result i32) (global.get $starts))
  (func (export "pages") (result i32) (memory.size))
  (func (export "call_slot") (param $i i32) (result i32)
    (call_indirect (result i32) (local.get $i)))
  (func (export "call_fn") (result i32)
    (table.set $t (i32.const 3) (global.get $fn))
    (call_indirect (result i32) (i32.const 3)))
  ;; Traps when the passive segment was dropped (memory.init of 1 byte).
  (func (export "reinit")
    (memory.init $passive (i32.const 0) (i32.const 0) (i32.const 1)))
  ;; Zeroes [addr, addr + 256).
  (func (export "clear") (param $addr i32)
    (memory.fill (local.get $addr) (i32.const 0) (i32.const 256)))
  ;; Calls the imported $ext (unused by the tests but keeps two imports).
  (func (export "ext") (param i32) (call $ext (local.get 0)))
)

;; Limits and trap information.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "rusm")
  (func $boom (export "boom") (unreachable))
  (func $calls_boom (export "calls_boom") (call $boom))
  (func (export "grow") (param $pages i32) (result i32)
    (memory.grow (local.get $pages)))
  (func (export "poke") (param $addr i32) (param $v i32)
    (i32.store (local.get $addr) (local.get $v)))
  (func (export "peek") (param $addr i32) (result i32)
    (i32.load (local.get $addr)))
  ;; many locals per frame: exhausts the value stack before the call depth
  (func $fat (export "fat") (param $x i64) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64
           i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (i64.add (local.get $x) (call $fat (local.get $x)))))

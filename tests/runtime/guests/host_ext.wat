;; A guest of a host module from outside the runtime (tests/runtime/host_test.cc):
;; "handle" blocks in test.block on its first resource and checks the answer;
;; "crash" traps while holding it.
(module
  (import "test" "block" (func $block (param i32) (result i32)))
  (memory 1)
  (func (export "handle") (param $h i32)
    (if (i32.ne (call $block (local.get $h)) (i32.const 42)) (then unreachable)))
  (func (export "wrong_handle") (param $h i32)
    (if (i32.ne (call $block (i32.add (local.get $h) (i32.const 1))) (i32.const -3))
      (then unreachable)))
  (func (export "crash") (param $h i32) unreachable))

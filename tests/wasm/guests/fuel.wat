;; Loops for fuel and preemption tests.
(module
  (memory 4)
  (func (export "spin") (loop $l (br $l)))
  (func (export "count") (param $n i64) (result i64)
    (local $i i64)
    (block $done
      (loop $again
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $again)))
    (local.get $i))
  ;; one big memory.fill: bulk operations charge fuel by size
  (func (export "fill") (param $len i32)
    (memory.fill (i32.const 0) (i32.const 7) (local.get $len)))
  (func $recurse (export "recurse") (param $x i64) (result i64)
    (i64.add (i64.const 1) (call $recurse (local.get $x)))))

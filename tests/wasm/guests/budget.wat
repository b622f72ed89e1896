;; For the embedder's controls over an instance: a ResourceLimiter asked about
;; memories and tables, host functions that charge fuel, and interrupts.
(module
  (import "env" "work" (func $work (param i32)))
  (memory 1 100)
  (table $t 10 1000 funcref)
  (table $u 5 funcref)
  (func (export "grow_memory") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "grow_table") (param i32) (result i32)
    (table.grow $t (ref.null func) (local.get 0)))
  ;; calls work(units) n times
  (func (export "work_loop") (param $n i32) (param $units i32)
    (local $i i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $work (local.get $units))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))))

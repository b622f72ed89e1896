;; Calls WASI sched_yield (a suspending WASI call) three times, then returns 7.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (drop (call $yield)) (drop (call $yield)) (drop (call $yield))
    i32.const 7)
  (func (export "quit") (param i32)
    (call $exit (local.get 0))))

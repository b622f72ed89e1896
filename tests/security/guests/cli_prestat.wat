;; Exits 0 when the first preopened directory (fd 3) is named "/x", 7 when
;; its name has another length, 8 when other bytes, 10/11 when WASI refuses.
;; cli_test runs it with --dir HOST:/x:rw to check the mode is not part of
;; the guest path.
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get"
    (func $prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name"
    (func $dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "/x")
  (func (export "_start")
    (if (call $prestat_get (i32.const 3) (i32.const 0))
      (then (call $exit (i32.const 10))))
    (if (i32.ne (i32.load (i32.const 4)) (i32.const 2))
      (then (call $exit (i32.const 7))))
    (if (call $dir_name (i32.const 3) (i32.const 200) (i32.const 2))
      (then (call $exit (i32.const 11))))
    (if (i32.ne (i32.load16_u (i32.const 200)) (i32.load16_u (i32.const 100)))
      (then (call $exit (i32.const 8))))
    (call $exit (i32.const 0))))

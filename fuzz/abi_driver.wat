;; The abi_fuzz driver: runs a program of rusm and WASI calls received as its
;; first message. Each step is one byte (the import, modulo 77) followed by
;; the call's arguments read from the program: 4 bytes per i32, 8 per i64.
;; An i64 argument of 1 means "the last i64 result" (a pid, monitor ref or
;; timer id), so that calls reach live processes. Results are dropped.
;; Generated from the import tables in src/runtime/abi.cc (kDefs) and
;; src/wasi/call.h (RUSM_WASI_FUNCTIONS): keep it in step with them.
(module
  (import "rusm" "abi_version" (func $abi_version (result i32)))
  (import "rusm" "self" (func $self (result i64)))
  (import "rusm" "parent" (func $parent (result i64)))
  (import "rusm" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "rusm" "spawn_module" (func $spawn_module (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "rusm" "exit" (func $exit (param i32 i32 i32)))
  (import "rusm" "exit_pid" (func $exit_pid (param i64 i32 i32 i32) (result i32)))
  (import "rusm" "is_alive" (func $is_alive (param i64) (result i32)))
  (import "rusm" "process_info" (func $process_info (param i64 i32 i32) (result i32)))
  (import "rusm" "processes" (func $processes (param i32 i32) (result i32)))
  (import "rusm" "set_label" (func $set_label (param i32 i32) (result i32)))
  (import "rusm" "send" (func $send (param i64 i64 i32 i32) (result i32)))
  (import "rusm" "send_name" (func $send_name (param i32 i32 i64 i32 i32) (result i32)))
  (import "rusm" "receive" (func $receive (param i64 i32 i64 i32 i32 i32) (result i32)))
  (import "rusm" "message_read" (func $message_read (param i32 i32 i32) (result i32)))
  (import "rusm" "link" (func $link (param i64) (result i32)))
  (import "rusm" "unlink" (func $unlink (param i64) (result i32)))
  (import "rusm" "monitor" (func $monitor (param i64) (result i64)))
  (import "rusm" "demonitor" (func $demonitor (param i64 i32) (result i32)))
  (import "rusm" "trap_exit" (func $trap_exit (param i32) (result i32)))
  (import "rusm" "register" (func $register (param i32 i32) (result i32)))
  (import "rusm" "unregister" (func $unregister (param i32 i32) (result i32)))
  (import "rusm" "whereis" (func $whereis (param i32 i32) (result i64)))
  (import "rusm" "send_after" (func $send_after (param i64 i64 i64 i32 i32) (result i64)))
  (import "rusm" "cancel_timer" (func $cancel_timer (param i64) (result i64)))
  (import "rusm" "sleep" (func $sleep (param i64)))
  (import "rusm" "yield" (func $yield))
  (import "rusm" "supervisor_start" (func $supervisor_start (param i32 i32) (result i64)))
  (import "rusm" "supervisor_start_child" (func $supervisor_start_child (param i64 i32 i32 i64) (result i64)))
  (import "rusm" "supervisor_terminate_child" (func $supervisor_terminate_child (param i64 i64 i64) (result i32)))
  (import "rusm" "supervisor_which_children" (func $supervisor_which_children (param i64 i32 i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $wasi_args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $wasi_args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $wasi_environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $wasi_environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_res_get" (func $wasi_clock_res_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $wasi_clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_advise" (func $wasi_fd_advise (param i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_allocate" (func $wasi_fd_allocate (param i32 i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $wasi_fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_datasync" (func $wasi_fd_datasync (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $wasi_fd_fdstat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $wasi_fd_fdstat_set_flags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_rights" (func $wasi_fd_fdstat_set_rights (param i32 i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $wasi_fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $wasi_fd_filestat_set_size (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_times" (func $wasi_fd_filestat_set_times (param i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pread" (func $wasi_fd_pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $wasi_fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $wasi_fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $wasi_fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $wasi_fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir" (func $wasi_fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_renumber" (func $wasi_fd_renumber (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $wasi_fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_sync" (func $wasi_fd_sync (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_tell" (func $wasi_fd_tell (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $wasi_fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory" (func $wasi_path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get" (func $wasi_path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_set_times" (func $wasi_path_filestat_set_times (param i32 i32 i32 i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link" (func $wasi_path_link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $wasi_path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_readlink" (func $wasi_path_readlink (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_remove_directory" (func $wasi_path_remove_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename" (func $wasi_path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink" (func $wasi_path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file" (func $wasi_path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $wasi_poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $wasi_proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "proc_raise" (func $wasi_proc_raise (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $wasi_sched_yield (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $wasi_random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $wasi_sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $wasi_sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $wasi_sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $wasi_sock_shutdown (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $pc (mut i32) (i32.const 0))
  (global $last (mut i64) (i64.const 0))
  (func $i32 (result i32)
    (i32.load (global.get $pc))
    (global.set $pc (i32.add (global.get $pc) (i32.const 4))))
  (func $i64 (result i64) (local $v i64)
    (local.set $v (i64.load (global.get $pc)))
    (global.set $pc (i32.add (global.get $pc) (i32.const 8)))
    (select (global.get $last) (local.get $v) (i64.eq (local.get $v) (i64.const 1))))
  (func (export "go") (local $len i32) (local $op i32)
    ;; the program: any message, no timeout, into memory at 0 (at most 64 KiB)
    (local.set $len
      (call $receive (i64.const 0) (i32.const 0) (i64.const -1) (i32.const 0) (i32.const 0)
                     (i32.const 65536)))
    (if (i32.gt_s (local.get $len) (i32.const 65536)) (then (local.set $len (i32.const 65536))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (global.get $pc) (local.get $len)))
        (local.set $op (i32.rem_u (i32.load8_u (global.get $pc)) (i32.const 77)))
        (global.set $pc (i32.add (global.get $pc) (i32.const 1)))
        (block $op76
        (block $op75
        (block $op74
        (block $op73
        (block $op72
        (block $op71
        (block $op70
        (block $op69
        (block $op68
        (block $op67
        (block $op66
        (block $op65
        (block $op64
        (block $op63
        (block $op62
        (block $op61
        (block $op60
        (block $op59
        (block $op58
        (block $op57
        (block $op56
        (block $op55
        (block $op54
        (block $op53
        (block $op52
        (block $op51
        (block $op50
        (block $op49
        (block $op48
        (block $op47
        (block $op46
        (block $op45
        (block $op44
        (block $op43
        (block $op42
        (block $op41
        (block $op40
        (block $op39
        (block $op38
        (block $op37
        (block $op36
        (block $op35
        (block $op34
        (block $op33
        (block $op32
        (block $op31
        (block $op30
        (block $op29
        (block $op28
        (block $op27
        (block $op26
        (block $op25
        (block $op24
        (block $op23
        (block $op22
        (block $op21
        (block $op20
        (block $op19
        (block $op18
        (block $op17
        (block $op16
        (block $op15
        (block $op14
        (block $op13
        (block $op12
        (block $op11
        (block $op10
        (block $op9
        (block $op8
        (block $op7
        (block $op6
        (block $op5
        (block $op4
        (block $op3
        (block $op2
        (block $op1
        (block $op0
          (br_table $op0 $op1 $op2 $op3 $op4 $op5 $op6 $op7 $op8 $op9 $op10 $op11 $op12 $op13
                    $op14 $op15 $op16 $op17 $op18 $op19 $op20 $op21 $op22 $op23 $op24 $op25
                    $op26 $op27 $op28 $op29 $op30 $op31 $op32 $op33 $op34 $op35 $op36 $op37
                    $op38 $op39 $op40 $op41 $op42 $op43 $op44 $op45 $op46 $op47 $op48 $op49
                    $op50 $op51 $op52 $op53 $op54 $op55 $op56 $op57 $op58 $op59 $op60 $op61
                    $op62 $op63 $op64 $op65 $op66 $op67 $op68 $op69 $op70 $op71 $op72 $op73
                    $op74 $op75 $op76 (local.get $op)))
        (drop (call $abi_version)) (br $next))
        (global.set $last (call $self)) (br $next))
        (global.set $last (call $parent)) (br $next))
        (drop (call $spawn (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $spawn_module (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (call $exit (call $i32) (call $i32) (call $i32)) (br $next))
        (drop (call $exit_pid (call $i64) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $is_alive (call $i64))) (br $next))
        (drop (call $process_info (call $i64) (call $i32) (call $i32))) (br $next))
        (drop (call $processes (call $i32) (call $i32))) (br $next))
        (drop (call $set_label (call $i32) (call $i32))) (br $next))
        (drop (call $send (call $i64) (call $i64) (call $i32) (call $i32))) (br $next))
        (drop (call $send_name (call $i32) (call $i32) (call $i64) (call $i32) (call $i32))) (br $next))
        (drop (call $receive (call $i64) (call $i32) (call $i64) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $message_read (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $link (call $i64))) (br $next))
        (drop (call $unlink (call $i64))) (br $next))
        (global.set $last (call $monitor (call $i64))) (br $next))
        (drop (call $demonitor (call $i64) (call $i32))) (br $next))
        (drop (call $trap_exit (call $i32))) (br $next))
        (drop (call $register (call $i32) (call $i32))) (br $next))
        (drop (call $unregister (call $i32) (call $i32))) (br $next))
        (global.set $last (call $whereis (call $i32) (call $i32))) (br $next))
        (global.set $last (call $send_after (call $i64) (call $i64) (call $i64) (call $i32) (call $i32))) (br $next))
        (global.set $last (call $cancel_timer (call $i64))) (br $next))
        (call $sleep (call $i64)) (br $next))
        (call $yield) (br $next))
        (global.set $last (call $supervisor_start (call $i32) (call $i32))) (br $next))
        (global.set $last (call $supervisor_start_child (call $i64) (call $i32) (call $i32) (call $i64))) (br $next))
        (drop (call $supervisor_terminate_child (call $i64) (call $i64) (call $i64))) (br $next))
        (drop (call $supervisor_which_children (call $i64) (call $i32) (call $i32) (call $i64))) (br $next))
        (drop (call $wasi_args_get (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_args_sizes_get (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_environ_get (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_environ_sizes_get (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_clock_res_get (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_clock_time_get (call $i32) (call $i64) (call $i32))) (br $next))
        (drop (call $wasi_fd_advise (call $i32) (call $i64) (call $i64) (call $i32))) (br $next))
        (drop (call $wasi_fd_allocate (call $i32) (call $i64) (call $i64))) (br $next))
        (drop (call $wasi_fd_close (call $i32))) (br $next))
        (drop (call $wasi_fd_datasync (call $i32))) (br $next))
        (drop (call $wasi_fd_fdstat_get (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_fd_fdstat_set_flags (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_fd_fdstat_set_rights (call $i32) (call $i64) (call $i64))) (br $next))
        (drop (call $wasi_fd_filestat_get (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_fd_filestat_set_size (call $i32) (call $i64))) (br $next))
        (drop (call $wasi_fd_filestat_set_times (call $i32) (call $i64) (call $i64) (call $i32))) (br $next))
        (drop (call $wasi_fd_pread (call $i32) (call $i32) (call $i32) (call $i64) (call $i32))) (br $next))
        (drop (call $wasi_fd_prestat_get (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_fd_prestat_dir_name (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_fd_pwrite (call $i32) (call $i32) (call $i32) (call $i64) (call $i32))) (br $next))
        (drop (call $wasi_fd_read (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_fd_readdir (call $i32) (call $i32) (call $i32) (call $i64) (call $i32))) (br $next))
        (drop (call $wasi_fd_renumber (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_fd_seek (call $i32) (call $i64) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_fd_sync (call $i32))) (br $next))
        (drop (call $wasi_fd_tell (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_fd_write (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_path_create_directory (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_path_filestat_get (call $i32) (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_path_filestat_set_times (call $i32) (call $i32) (call $i32) (call $i32) (call $i64) (call $i64) (call $i32))) (br $next))
        (drop (call $wasi_path_link (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_path_open (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i64) (call $i64) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_path_readlink (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_path_remove_directory (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_path_rename (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_path_symlink (call $i32) (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_path_unlink_file (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_poll_oneoff (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (call $wasi_proc_exit (call $i32)) (br $next))
        (drop (call $wasi_proc_raise (call $i32))) (br $next))
        (drop (call $wasi_sched_yield)) (br $next))
        (drop (call $wasi_random_get (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_sock_accept (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_sock_recv (call $i32) (call $i32) (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_sock_send (call $i32) (call $i32) (call $i32) (call $i32) (call $i32))) (br $next))
        (drop (call $wasi_sock_shutdown (call $i32) (call $i32))) (br $next)))
  )
)

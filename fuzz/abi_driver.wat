;; The abi_fuzz driver: runs a program of rusm ABI calls received as its
;; first message. Each step is one byte (the import, modulo 31) followed by
;; the call's arguments read from the program: 4 bytes per i32, 8 per i64.
;; An i64 argument of 1 means "the last i64 result" (a pid, monitor ref or
;; timer id), so that calls reach live processes. Results are dropped. The
;; imports mirror the table in src/runtime/abi.cc (kDefs): keep them in step.
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
  (import "rusm" "yield" (func $yield ))
  (import "rusm" "supervisor_start" (func $supervisor_start (param i32 i32) (result i64)))
  (import "rusm" "supervisor_start_child" (func $supervisor_start_child (param i64 i32 i32 i64) (result i64)))
  (import "rusm" "supervisor_terminate_child" (func $supervisor_terminate_child (param i64 i64 i64) (result i32)))
  (import "rusm" "supervisor_which_children" (func $supervisor_which_children (param i64 i32 i32 i64) (result i32)))
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
        (local.set $op (i32.rem_u (i32.load8_u (global.get $pc)) (i32.const 31)))
        (global.set $pc (i32.add (global.get $pc) (i32.const 1)))
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
          (br_table $op0 $op1 $op2 $op3 $op4 $op5 $op6 $op7 $op8 $op9 $op10 $op11 $op12 $op13 $op14
                    $op15 $op16 $op17 $op18 $op19 $op20 $op21 $op22 $op23 $op24 $op25 $op26 $op27
                    $op28 $op29 $op30 (local.get $op)))
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
        (drop (call $supervisor_which_children (call $i64) (call $i32) (call $i32) (call $i64))) (br $next)))
  )
)

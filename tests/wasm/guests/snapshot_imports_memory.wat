;; A module that imports its memory: a snapshot of it is not supported yet.
(module
  (import "env" "memory" (memory 1))
  (func (export "f")))

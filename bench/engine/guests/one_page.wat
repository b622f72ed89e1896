;; The smallest useful module for `rusm bench instantiate`: one page of
;; memory, one exported function.
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    i32.const 42))

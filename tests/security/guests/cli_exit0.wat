;; `rusm run` a module that works: _start returns, so the exit status is 0.
;; CLI tests use it where a bad flag must be refused before the module runs.
(module
  (memory (export "memory") 1)
  (func (export "_start")))

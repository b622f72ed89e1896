;; The smallest Wasm process: one page, returns at once (module-storm's guest too).
(module (memory 1) (func (export "run")))

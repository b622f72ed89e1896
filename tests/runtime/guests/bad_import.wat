(module (import "rusm" "no_such_function" (func)) (func (export "run")))

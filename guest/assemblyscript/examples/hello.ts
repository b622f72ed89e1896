// `rusm run hello.wasm`: a process says who it is.
import * as rusm from "rusm";

export function _start(): void {
  console.log(
    "hello from assemblyscript process " + rusm.self().toString() + " (abi " + rusm.abiVersion().toString() + ")",
  );
}

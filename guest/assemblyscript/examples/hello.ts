// `rusm run hello.wasm`: a process says who it is.
import * as rusm from "rusm";

export function _start(): void {
  const pid = rusm.self().toString();
  console.log("hello from assemblyscript process " + pid + " (abi " + rusm.abiVersion().toString() + ")");
}

// The raw ABI: `import * as sys from "rusm/sys"` for the imports, error codes
// (sys.OK, sys.ETIMEOUT, ...), constants and struct layouts that
// assembly/sys.ts holds (generated from abi/rusm.toml by scripts/abi.py).
export * from "./assembly/sys";

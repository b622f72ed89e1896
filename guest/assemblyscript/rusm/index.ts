// The rusm package's entry: `import * as rusm from "rusm"` (asc --path
// guest/assemblyscript, or node_modules/rusm) resolves to this file.
export * from "./assembly/index";

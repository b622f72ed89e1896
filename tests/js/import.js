// Only one file runs: other imports are refused with a clear error.
import { x } from "./other.js";
console.log(x);

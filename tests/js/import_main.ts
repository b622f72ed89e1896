// A TypeScript app made of two files: esbuild bundles ./import_lib.ts in.
import { Counter, shout } from "./import_lib";
import { self } from "rusm";

const c = new Counter(40);
c.add(2);
console.log(`${shout("imported")} total=${c.total} self=${typeof self()}`);

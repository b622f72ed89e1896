// The API is also the module "rusm": default and named imports.
import rusm2, { self, isMain } from "rusm";
console.log(`module rusm: ${rusm2 === rusm} ${self() === rusm.self()} ${isMain} ${typeof BigInt}`);

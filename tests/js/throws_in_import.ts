// An uncaught error thrown in an imported file: the error line names that
// .ts file and its line (esbuild's source map), not the bundle's.
import { explode } from "./import_lib";

interface Config {
  depth: number;
}

const config: Config = { depth: 3 };
explode(config.depth);

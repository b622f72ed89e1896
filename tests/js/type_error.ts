// Type errors that tsc rejects (TS2322, TS2345): esbuild strips types
// without checking them, so this runs.
const s: string = 42;
function twice(x: number): number {
  return x * 2;
}
console.log(`type errors ignored: ${typeof s} ${twice("21")}`);

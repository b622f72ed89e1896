// Imported by import_main.ts.
export class Counter {
  constructor(public total: number) {}
  add(n: number): void {
    this.total += n;
  }
}

export function shout(s: string): string {
  return s.toUpperCase() + "!";
}

// Throws on line 15 of this file (throws_in_import.ts).
export function explode(depth: number): never {
  throw new RangeError(`exploded at depth ${depth}`);
}

// The smallest TypeScript app: type annotations and an interface, which
// esbuild strips; top-level code is the main program.
interface Greeting {
  who: string;
  pid: number;
}

function greet(g: Greeting): string {
  return `hello from TypeScript process ${g.pid}, ${g.who}`;
}

const g: Greeting = { who: "typed", pid: rusm.self() as number };
console.log(greet(g));

// The smallest app: top-level code is the main program.
console.log("hello from JavaScript process", rusm.self());
console.log("utf-8:", new TextDecoder().decode(new TextEncoder().encode("héllo ✓")));

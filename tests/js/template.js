// JS children start from the app's template (docs/js.md, "How spawning
// works"): module state is each child's own copy, Math.random is reseeded per
// process, and children of children use the same template.
let counter = 0;
const atLoad = Math.random();

export function child(parent, i) {
  counter += 1;
  rusm.send(parent, "r", JSON.stringify({ i, counter, random: Math.random(), atLoad }));
}

export function grandparent(parent) {
  rusm.spawn("child", [rusm.self(), 7]);
  const m = rusm.receive({ tag: "r" }).json();
  rusm.send(parent, "g", JSON.stringify(m));
}

export function main() {
  for (let i = 0; i < 3; i++) rusm.spawn("child", [rusm.self(), i]);
  const seen = [];
  for (let i = 0; i < 3; i++) seen.push(rusm.receive({ tag: "r" }).json());
  rusm.spawn("grandparent", [rusm.self()]);
  const g = rusm.receive({ tag: "g" }).json();
  const randoms = new Set(seen.map((s) => s.random));
  const loads = new Set(seen.map((s) => s.atLoad));
  console.log(`counters ${seen.map((s) => s.counter).join(",")}; ` +
              `randoms distinct ${randoms.size}; top level ran once for them ${loads.size === 1}; ` +
              `grandchild ${g.i} counter ${g.counter}`);
}

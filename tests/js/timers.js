// setTimeout, setInterval, clearTimeout and promises: timers fire in the
// order of their delays once the task (the top level, then main) is over.
const order = [];
setTimeout(() => order.push("b200"), 200);
setTimeout(() => order.push("a100"), 100);
const never = setTimeout(() => order.push("never"), 50);
clearTimeout(never);
let n = 0;
const every = setInterval(() => {
  order.push("i" + ++n);
  if (n === 3) clearInterval(every);
}, 60);
queueMicrotask(() => order.push("micro"));

export async function main() {
  await new Promise((resolve) => setTimeout(resolve, 10));
  order.push("awaited");
  setTimeout(() => console.log(order.join(" ")), 500);
}

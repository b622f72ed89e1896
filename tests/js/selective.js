// Selective receive: messages with other tags stay queued, in order.
export function sender(to) {
  rusm.send(to, "low", "first low");
  rusm.send(to, 7, new Uint8Array([1, 2, 3]));
  rusm.send(to, "low", "second low");
  rusm.send(to, "high", { n: 42 });
}

export function main() {
  rusm.spawn("sender", [rusm.self()]);
  const high = rusm.receive({ tag: "high" });          // arrives last, taken first
  const seven = rusm.receive({ tag: 7 });
  const low1 = rusm.receive();
  const low2 = rusm.receive();
  const none = rusm.receive({ timeout: 50 });
  console.log(`high=${high.json().n} seven=${Array.from(seven.data).join(",")} ` +
              `then ${low1.tag}:${low1.text()}, ${low2.tag}:${low2.text()}, then ${none}`);
}

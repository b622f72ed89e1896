// Topics from JS (docs/js.md "Topics"): two subscribers get a publish as a
// message whose tag is the topic; a subscriber takes it selectively while
// an earlier message waits; an unsubscribed process gets nothing more.
export function subscriber(name) {
  rusm.subscribe("news");
  rusm.send(rusm.parent(), "ready", name);
  // "other" was sent to us before the publish: receive the topic first.
  const news = rusm.receive({ tag: "news" });
  const other = rusm.receive({ tag: "other" });
  rusm.send(rusm.parent(), "got", `${name}:${news.text()}:from-main=${news.from === rusm.parent()}:then-${other.text()}`);
  const left = rusm.unsubscribe("news");
  const again = rusm.unsubscribe("news");
  rusm.send(rusm.parent(), "unsubscribed", `${left}/${again}`);
  // Nothing more arrives on the topic.
  const late = rusm.receive({ tag: "news", timeout: 300 });
  rusm.send(rusm.parent(), "late", `${name}:${late === null ? "none" : late.text()}`);
}

export function main() {
  const subs = ["s1", "s2"].map((n) => rusm.spawn("subscriber", [n]));
  for (let i = 0; i < 2; i++) rusm.receive({ tag: "ready" });
  for (const p of subs) rusm.send(p, "other", "queued");
  const copies = rusm.publish("news", "extra!");
  const got = [rusm.receive({ tag: "got" }).text(), rusm.receive({ tag: "got" }).text()].sort();
  const unsub = [rusm.receive({ tag: "unsubscribed" }).text(), rusm.receive({ tag: "unsubscribed" }).text()];
  const after = rusm.publish("news", "too late");
  const late = [rusm.receive({ tag: "late" }).text(), rusm.receive({ tag: "late" }).text()].sort();
  // An integer tag, for C subscribers: the main process subscribes itself.
  rusm.subscribe("ints");
  rusm.publish("ints", new Uint8Array([7]), { tag: 7 });
  const m = rusm.receive({ tag: 7 });
  console.log(`copies=${copies} ${got.join(" ")} unsubscribed=${unsub.join(",")} after=${after} ${late.join(" ")} int=${m.tag}:${m.data[0]}`);
}

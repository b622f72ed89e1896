// The key-value store from JS (docs/js.md "Key-value store"). Modes:
//   count       increments "visits" in bucket app and prints it (run twice
//               on one --kv file: the count survives the restart)
//   check       get/put/delete, values as text/bytes/JSON, compare-and-swap
//               and its conflict, list paging, batch atomicity; one line
//   readonly    a put on a bucket granted kv:app:ro
//   other       opens a bucket that was not granted
export function main(mode = "check") {
  if (mode === "count") {
    const b = rusm.kv.open("app");
    console.log(`visits: ${b.incr("visits")}`);
    return;
  }
  if (mode === "readonly") {
    const b = rusm.kv.open("app");
    console.log(`read: ${b.getText("visits")}`);
    b.put("visits", "0");
    return;
  }
  if (mode === "other") {
    rusm.kv.open("secrets");
    return;
  }
  const b = rusm.kv.open("app");
  const out = [];
  // Values: text, bytes, JSON; a missing key is null.
  b.put("t/text", "héllo");
  b.put("t/bytes", new Uint8Array([0, 1, 255]));
  b.put("t/json", { n: 42, list: [1, 2] });
  out.push(`text=${b.getText("t/text")}`);
  out.push(`bytes=${Array.from(b.get("t/bytes")).join(",")}`);
  out.push(`json=${b.getJSON("t/json").n}`);
  out.push(`missing=${b.get("t/none")}`);
  out.push(`deleted=${b.delete("t/text")}/${b.delete("t/text")}/${b.getText("t/text")}`);
  // Compare-and-swap: on absence, on a value, a conflict leaves the value.
  const c1 = b.cas("cas", null, "v1");
  const c2 = b.cas("cas", null, "v2");
  const c3 = b.cas("cas", "v1", "v3");
  const c4 = b.cas("cas", "v1", "v4");
  out.push(`cas=${c1},${c2},${c3},${c4}:${b.getText("cas")}`);
  const c5 = b.cas("cas", "v3", null);
  out.push(`casdel=${c5}:${b.getText("cas")}`);
  // incr: a missing key is 0; a non-integer value is EBADSTATE.
  out.push(`incr=${b.incr("n", 5)},${b.incr("n", -2)}`);
  try {
    b.incr("t/json");
  } catch (e) {
    out.push(`incr-json=${e.code}`);
  }
  // List with paging: 25 keys, pages of 10, keys in byte order.
  for (let i = 0; i < 25; i++) b.put(`page/${String(i).padStart(2, "0")}`, `v${i}`);
  b.put("pagf", "outside the prefix");
  const pages = [];
  let after = null, seen = [];
  for (;;) {
    const p = b.list("page/", { after, limit: 10 });
    pages.push(p.entries.length);
    seen = seen.concat(p.entries.map((e) => e.key));
    if (p.next === null) break;
    after = p.next;
  }
  const ordered = seen.every((k, i) => k === `page/${String(i).padStart(2, "0")}`);
  out.push(`pages=${pages.join("+")} keys=${seen.length} ordered=${ordered} ` +
           `value=${b.list("page/1", { limit: 1 }).entries[0].text()}`);
  const all = [...b.entries("page/", { values: false })];
  out.push(`iter=${all.length}:${all[24].key}:${all[0].value}`);
  // Batch: a failed check writes nothing; a passing batch writes all.
  b.put("acct/a", "100");
  try {
    b.batch([
      { op: "put", key: "acct/a", value: "0" },
      { op: "put", key: "acct/b", value: "100" },
      { op: "check", key: "acct/a", value: "999" },
    ]);
    out.push("batch=applied?!");
  } catch (e) {
    out.push(`batch=${e.code}@${e.index} a=${b.getText("acct/a")} b=${b.getText("acct/b")}`);
  }
  b.batch([
    { op: "check", key: "acct/a", value: "100" },
    { op: "checkAbsent", key: "acct/b" },
    { op: "put", key: "acct/a", value: "0" },
    { op: "put", key: "acct/b", value: "100" },
    { op: "delete", key: "page/00" },
  ]);
  out.push(`batch2 a=${b.getText("acct/a")} b=${b.getText("acct/b")} p0=${b.get("page/00")}`);
  b.close();
  try {
    b.get("x");
  } catch (e) {
    out.push(`closed=${e.message}`);
  }
  console.log(out.join(" "));
}

// A fetched body read as it arrives (docs/js.md, "fetch"): `rusm run
// fetch_stream.js --allow-net HOST:PORT -- BASE N` reads N bytes of
// BASE/big?N (with a Content-Length) and BASE/chunked?N (chunked) through
// response.body's reader, `for await` and `for ... of`, and prints for
// each the byte count, a checksum (Adler-32) and whether it took more than
// one read; then the TypeError of text() after a reader, and text() whole.
function adler32(state, bytes) {
  let [a, b] = state;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return [a, b];
}
const hex = ([a, b]) => ((b * 65536 + a) >>> 0).toString(16);

export async function main(base, n) {
  // getReader(): read() until done.
  let r = await fetch(`${base}/big?${n}`);
  const reader = r.body.getReader();
  let bytes = 0, reads = 0, sum = [1, 0], allBytes = true;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    allBytes = allBytes && value instanceof Uint8Array;
    bytes += value.length;
    reads++;
    sum = adler32(sum, value);
  }
  console.log(`reader: ${bytes} bytes, adler32 ${hex(sum)}, several reads ${reads > 1}, Uint8Array ${allBytes}`);
  console.log(`bodyUsed ${r.bodyUsed}, locked ${r.body.locked}`);
  try {
    await r.text();
    console.log("text() after the reader: no error");
  } catch (e) {
    console.log(`text() after the reader: ${e.name}: ${e.message}`);
  }

  // for await, on a chunked body.
  r = await fetch(`${base}/chunked?${n}`);
  bytes = 0, reads = 0, sum = [1, 0];
  for await (const chunk of r.body) {
    bytes += chunk.length;
    reads++;
    sum = adler32(sum, chunk);
  }
  console.log(`for await: ${bytes} bytes, adler32 ${hex(sum)}, several reads ${reads > 1}`);
  try {
    await r.json();
    console.log("json() after for await: no error");
  } catch (e) {
    console.log(`json() after for await: ${e.name}`);
  }

  // for ... of, synchronously, from rusm.fetch; stopped early, then whole.
  const s = rusm.fetch(`${base}/big?${n}`);
  bytes = 0, sum = [1, 0];
  for (const chunk of s.body) {
    bytes += chunk.length;
    sum = adler32(sum, chunk);
  }
  console.log(`for of: ${bytes} bytes, adler32 ${hex(sum)}`);
  const early = rusm.fetch(`${base}/big?${n}`);
  for (const chunk of early.body) break;
  try {
    early.body.getReader().read().then((x) => console.log(`after break: done ${x.done}`));
  } catch (e) {
    console.log(`after break: ${e.name}`);
  }
  const whole = await fetch(`${base}/chunked?${n}`);
  const text = await whole.text();
  console.log(`text(): ${text.length} chars, again ${(await whole.text()).length}, reader then: ${
    (() => { try { whole.body.getReader(); return "no error"; } catch (e) { return e.name; } })()}`);
}

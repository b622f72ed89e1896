// Outbound HTTP from JavaScript (docs/fetch.md): `rusm run fetch.js
// --allow-net HOST:PORT -- URL` fetches URL twice, with rusm.fetch (the
// process waits, no promise) and with the global fetch (the Web's promise
// shape), and prints "<status> <X-Test header> <body>" for each. A refused
// fetch throws an Error whose code is the rusm error's name.
export async function main(url) {
  const r = rusm.fetch(url, { headers: { "X-Echo": "from js" } });
  console.log(r.status, r.headers.get("x-test"), r.text());
  const w = await fetch(url);
  console.log(w.status, w.headers.get("X-TEST"), await w.text());
}

// Web Crypto beyond digest (docs/js.md "Web Crypto"): HMAC against RFC 4231
// (test cases 1 and 2), verify and a tampered tag, randomUUID, AES-GCM
// round trip and a tampered ciphertext, Ed25519 against RFC 8032 (test 1),
// ECDSA P-256 sign/verify, and an algorithm that is not supported.
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
const enc = (s) => new TextEncoder().encode(s);

export async function main() {
  const s = crypto.subtle;
  const out = [];
  const k1 = await s.importKey("raw", new Uint8Array(20).fill(0x0b), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  out.push(`rfc4231-1-sha256: ${hex(await s.sign("HMAC", k1, enc("Hi There")))}`);
  for (const hash of ["SHA-256", "SHA-384", "SHA-512"]) {
    const k = await s.importKey("raw", enc("Jefe"), { name: "HMAC", hash: { name: hash } }, false, ["sign", "verify"]);
    out.push(`rfc4231-2-${hash.toLowerCase()}: ${hex(await s.sign({ name: "HMAC" }, k, enc("what do ya want for nothing?")))}`);
  }
  const tag = await s.sign("HMAC", k1, enc("Hi There"));
  const bad = new Uint8Array(tag).slice(); // a copy: the view would share tag's bytes
  bad[0] ^= 1;
  out.push(`hmac verify: ${await s.verify("HMAC", k1, tag, enc("Hi There"))} tampered: ${await s.verify("HMAC", k1, bad, enc("Hi There"))}`);
  try {
    await s.exportKey("raw", k1);
  } catch (e) {
    out.push(`export non-extractable: ${e.name}`);
  }
  const gen = await s.generateKey({ name: "HMAC", hash: "SHA-512" }, true, ["sign"]);
  out.push(`generated hmac: ${gen.algorithm.length} bits, exported ${(await s.exportKey("raw", gen)).byteLength} bytes`);

  const u = crypto.randomUUID();
  out.push(`uuid: ${/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u)} ${u !== crypto.randomUUID()}`);

  const aes = await s.importKey("raw", new Uint8Array(32).fill(7), "AES-GCM", true, ["encrypt", "decrypt"]);
  const iv = new Uint8Array(12).fill(1);
  const sealed = await s.encrypt({ name: "AES-GCM", iv, additionalData: enc("hdr") }, aes, enc("secret message"));
  const opened = await s.decrypt({ name: "AES-GCM", iv, additionalData: enc("hdr") }, aes, sealed);
  const tampered = new Uint8Array(sealed).slice();
  tampered[3] ^= 0x80;
  let tamperedResult = "opened?!";
  try {
    await s.decrypt({ name: "AES-GCM", iv, additionalData: enc("hdr") }, aes, tampered);
  } catch (e) {
    tamperedResult = e.name;
  }
  out.push(`aes-gcm: ${sealed.byteLength} bytes, ${new TextDecoder().decode(opened)}, tampered: ${tamperedResult}, key back: ${hex(await s.exportKey("raw", aes)).slice(0, 4)}`);

  const pkcs8 = unhex("302e020100300506032b657004220420" + "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const ed = await s.importKey("pkcs8", pkcs8, "Ed25519", false, ["sign"]);
  const edPub = await s.importKey("raw", unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"), { name: "Ed25519" }, true, ["verify"]);
  const edSig = await s.sign("Ed25519", ed, new Uint8Array(0));
  out.push(`rfc8032-1: ${hex(edSig)} verify: ${await s.verify("Ed25519", edPub, edSig, new Uint8Array(0))}`);

  const ec = await s.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const ecSig = await s.sign({ name: "ECDSA", hash: "SHA-256" }, ec.privateKey, enc("payload"));
  out.push(`ecdsa: ${ecSig.byteLength} bytes, verify: ${await s.verify({ name: "ECDSA", hash: "SHA-256" }, ec.publicKey, ecSig, enc("payload"))}, other data: ${await s.verify({ name: "ECDSA", hash: "SHA-256" }, ec.publicKey, ecSig, enc("payloaD"))}, public ${(await s.exportKey("raw", ec.publicKey)).byteLength} bytes`);

  try {
    await s.importKey("raw", new Uint8Array(16), { name: "RSA-PSS" }, false, ["sign"]);
  } catch (e) {
    out.push(`rsa: ${e.name}: ${e.message}`);
  }
  try {
    await s.wrapKey("raw", k1, aes, "AES-KW");
  } catch (e) {
    out.push(`wrap: ${e.name}`);
  }
  console.log(out.join("\n"));
}

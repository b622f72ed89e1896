// Web Crypto's HKDF and rusm's extensions (docs/js.md "Web Crypto"): HKDF
// against RFC 5869 (test cases 1 and 3, SHA-256) through deriveBits, and
// deriveKey to HMAC, AES-GCM and ChaCha20-Poly1305 keys that work;
// ChaCha20-Poly1305 against RFC 8439 section 2.8.2, its round trip, a
// tampered ciphertext, tag and additional data, a truncated one, another
// key; BLAKE2b-512 and
// BLAKE2s-256 of "abc" (RFC 7693 appendices A and B); and what is refused.
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
const enc = (s) => new TextEncoder().encode(s);
const range = (from, n) => new Uint8Array(n).map((_, i) => from + i);

export async function main() {
  const s = crypto.subtle;
  const out = [];
  const failure = async (f) => {
    try {
      return `returned ${hex(await f())}`;
    } catch (e) {
      return `${e.name}: ${e.message}`;
    }
  };

  // HKDF
  const ikm = await s.importKey("raw", new Uint8Array(22).fill(0x0b), "HKDF", false, ["deriveBits", "deriveKey", "sign"]);
  out.push(`hkdf key: ${ikm.type} ${ikm.algorithm.name} ${ikm.extractable} [${ikm.usages}]`);
  const tc1 = { name: "HKDF", hash: "SHA-256", salt: range(0, 13), info: range(0xf0, 10) };
  out.push(`rfc5869-1: ${hex(await s.deriveBits(tc1, ikm, 42 * 8))}`);
  const tc3 = { name: "HKDF", hash: { name: "SHA-256" }, salt: new Uint8Array(0), info: new ArrayBuffer(0) };
  out.push(`rfc5869-3: ${hex(await s.deriveBits(tc3, ikm, 42 * 8))}`);
  const long = await s.deriveBits({ name: "HKDF", hash: "SHA-512", salt: enc("salt"), info: enc("info") }, ikm, 255 * 64 * 8);
  const short = await s.deriveBits({ name: "HKDF", hash: "SHA-512", salt: enc("salt"), info: enc("info") }, ikm, 64 * 8);
  out.push(`hkdf-sha512: ${long.byteLength} bytes, prefix of the longest: ${hex(long).startsWith(hex(short))}, ` +
           `sha-384 differs: ${hex(await s.deriveBits({ name: "HKDF", hash: "SHA-384", salt: enc("salt"), info: enc("info") }, ikm, 512)) !== hex(short)}`);

  const hmacKey = await s.deriveKey(tc1, ikm, { name: "HMAC", hash: "SHA-256", length: 336 }, true, ["sign", "verify"]);
  out.push(`derived hmac: ${hmacKey.algorithm.name} ${hmacKey.algorithm.hash.name} ${hmacKey.algorithm.length} bits, ` +
           `raw is the bits: ${hex(await s.exportKey("raw", hmacKey)) === hex(await s.deriveBits(tc1, ikm, 336))}`);
  const mac = await s.sign("HMAC", hmacKey, enc("hello"));
  out.push(`derived hmac signs: ${await s.verify("HMAC", hmacKey, mac, enc("hello"))} ${await s.verify("HMAC", hmacKey, mac, enc("hellO"))}`);
  const aesKey = await s.deriveKey(tc1, ikm, { name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
  const iv = new Uint8Array(12).fill(9);
  const aesSealed = await s.encrypt({ name: "AES-GCM", iv }, aesKey, enc("derived"));
  out.push(`derived aes-gcm: ${aesKey.algorithm.length} bits, key: ${hex(await s.exportKey("raw", aesKey))}, ` +
           `round trip: ${new TextDecoder().decode(await s.decrypt({ name: "AES-GCM", iv }, aesKey, aesSealed))}`);
  const chachaKey = await s.deriveKey(tc1, ikm, { name: "ChaCha20-Poly1305" }, false, ["encrypt", "decrypt"]);
  const chachaSealed = await s.encrypt({ name: "ChaCha20-Poly1305", iv }, chachaKey, enc("derived"));
  out.push(`derived chacha20-poly1305: ${chachaKey.algorithm.name}, ` +
           `round trip: ${new TextDecoder().decode(await s.decrypt({ name: "ChaCha20-Poly1305", iv }, chachaKey, chachaSealed))}`);

  // ChaCha20-Poly1305 (RFC 8439 2.8.2)
  const key = await s.importKey("raw", range(0x80, 32), "ChaCha20-Poly1305", true, ["encrypt", "decrypt"]);
  const params = { name: "ChaCha20-Poly1305", iv: unhex("070000004041424344454647"), additionalData: unhex("50515253c0c1c2c3c4c5c6c7") };
  const plain = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
  const sealed = await s.encrypt(params, key, enc(plain));
  out.push(`rfc8439-2.8.2 ciphertext: ${hex(sealed).slice(0, -32)}`);
  out.push(`rfc8439-2.8.2 tag: ${hex(sealed).slice(-32)}`);
  out.push(`chacha20-poly1305 opens: ${new TextDecoder().decode(await s.decrypt(params, key, sealed)) === plain}`);
  const flipped = (buf, i) => {
    const b = new Uint8Array(buf).slice();
    b[i] ^= 1;
    return b;
  };
  out.push(`tampered ciphertext: ${await failure(() => s.decrypt(params, key, flipped(sealed, 0)))}`);
  out.push(`tampered tag: ${await failure(() => s.decrypt(params, key, flipped(sealed, sealed.byteLength - 1)))}`);
  out.push(`other additionalData: ${await failure(() => s.decrypt({ ...params, additionalData: enc("x") }, key, sealed))}`);
  out.push(`truncated: ${await failure(() => s.decrypt(params, key, new Uint8Array(sealed).slice(0, 15)))}`);
  const gen = await s.generateKey({ name: "ChaCha20-Poly1305" }, false, ["encrypt", "decrypt"]);
  const genSealed = await s.encrypt({ name: "ChaCha20-Poly1305", iv }, gen, new Uint8Array(0));
  out.push(`generated: ${gen.algorithm.name} ${gen.algorithm.length} bits, empty message seals to ${genSealed.byteLength} bytes, ` +
           `opens to ${(await s.decrypt({ name: "ChaCha20-Poly1305", iv }, gen, genSealed)).byteLength}, ` +
           `other key: ${await failure(() => s.decrypt({ name: "ChaCha20-Poly1305", iv }, key, genSealed))}`);
  out.push(`key back: ${hex(await s.exportKey("raw", key)) === hex(range(0x80, 32))}`);

  // BLAKE2 (RFC 7693 appendices A and B)
  out.push(`blake2b-512("abc"): ${hex(await s.digest("BLAKE2b-512", enc("abc")))}`);
  out.push(`blake2s-256("abc"): ${hex(await s.digest({ name: "BLAKE2s-256" }, "abc"))}`);

  // An empty input keying material (RFC 5869 allows it): PRK = HMAC(salt, "").
  const empty = await s.importKey("raw", new Uint8Array(0), "HKDF", false, ["deriveBits"]);
  out.push(`hkdf empty key: ${hex(await s.deriveBits(tc1, empty, 256))}`);

  // refused
  const refused = {
    "hkdf extractable": () => s.importKey("raw", enc("k"), "HKDF", true, ["deriveBits"]),
    "hkdf 41 bits": () => s.deriveBits(tc1, ikm, 41),
    "hkdf no length": () => s.deriveBits(tc1, ikm, null),
    "hkdf too long": () => s.deriveBits(tc1, ikm, 255 * 32 * 8 + 8),
    "hkdf no salt": () => s.deriveBits({ name: "HKDF", hash: "SHA-256", info: enc("") }, ikm, 256),
    "hkdf md5": () => s.deriveBits({ ...tc1, hash: "MD5" }, ikm, 256),
    "hkdf long info": () => s.deriveBits({ ...tc1, info: new Uint8Array(1025) }, ikm, 256),
    "hkdf key to sign": () => s.sign("HMAC", ikm, enc("x")),
    "hmac key to derive": () => s.deriveBits(tc1, hmacKey, 256),
    "derive ed25519": () => s.deriveKey(tc1, ikm, "Ed25519", false, ["sign"]),
    "chacha key of 16 bytes": () => s.importKey("raw", new Uint8Array(16), "ChaCha20-Poly1305", false, ["encrypt"]),
    "chacha iv of 8 bytes": () => s.encrypt({ name: "ChaCha20-Poly1305", iv: new Uint8Array(8) }, key, enc("x")),
    "aes-gcm key for chacha": () => s.encrypt({ name: "ChaCha20-Poly1305", iv }, aesKey, enc("x")),
    "blake2b-256": () => s.digest("BLAKE2b-256", enc("abc")),
  };
  for (const [name, f] of Object.entries(refused)) out.push(`${name}: ${await failure(f)}`);
  console.log(out.join("\n"));
}

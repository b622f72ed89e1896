// Web Crypto's digest and getRandomValues from a JS process (cap crypto):
// prints the SHA-256 of "abc" (the FIPS 180-2 vector), the length of a
// SHA-512, and whether 32 random bytes came (not all zero).
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

export async function main() {
  console.log("sha-256:", hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("abc"))));
  console.log("sha-512 bytes:", (await crypto.subtle.digest({ name: "SHA-512" }, "abc")).byteLength);
  const r = crypto.getRandomValues(new Uint8Array(32));
  console.log("random:", r.length, r.some((b) => b !== 0));
  try {
    await crypto.subtle.digest("MD5", "abc");
  } catch (e) {
    console.log("md5:", e.message);
  }
}

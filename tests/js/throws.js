function inner() {
  throw new RangeError("too far");
}
export function main() {
  inner();
}

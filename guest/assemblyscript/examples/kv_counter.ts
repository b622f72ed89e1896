// A durable counter: `rusm run kv_counter.wasm --allow kv:counter` prints one
// more each run (the node's store keeps it in .rusm/kv.db, or --kv FILE).
import * as rusm from "rusm";

export function _start(): void {
  const bucket = rusm.Bucket.open("counter");
  if (!bucket.ok) {
    const why = rusm.errorName(bucket.error);
    process.stderr.write("kv_counter: bucket 'counter': " + why + " (grant it with --allow kv:counter)\n");
    process.exit(1);
  }
  const hits = bucket.value.incr("hits", 1).expect("incr");
  console.log("hits: " + hits.toString());
}

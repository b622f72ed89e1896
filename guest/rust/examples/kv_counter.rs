// A durable counter: `rusm run kv_counter.wasm --allow kv:counter` prints one
// more each run (the node's store keeps it in .rusm/kv.db).
fn main() {
    let bucket = match rusm::Bucket::open("counter") {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kv_counter: bucket 'counter': {} (grant it with --allow kv:counter)", e);
            std::process::exit(1);
        }
    };
    let hits = bucket.incr(b"hits", 1).expect("incr");
    println!("hits: {}", hits);
}

// Two processes bouncing a message: `rusm run ping_pong.wasm --allow spawn -- 1000`.
use rusm::Pid;

#[no_mangle]
pub extern "C" fn pong() {
    loop {
        let m = rusm::receive();
        if rusm::send(m.from, m.tag, &m.data).is_err() {
            return;
        }
    }
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let p: Pid = rusm::spawn_link("pong", &[]).expect("spawn (grant it with --allow spawn)");
    for i in 1..=n {
        rusm::send(p, i, b"ping").unwrap();
        let m = rusm::receive();
        assert_eq!(m.tag, i);
    }
    println!("{} round trips with process {}", n, p.0);
}

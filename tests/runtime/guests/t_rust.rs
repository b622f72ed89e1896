// Conformance guest of the Rust SDK (guest/rust/rusm): the same ABI t_abi.c
// checks from C, through the crate's safe API. `all` reports "ok" or the
// first failure to the reporter (tag 1).
use rusm::{Bucket, Pid, SpawnOptions};
use std::time::Duration;

fn report(to: Pid, text: &str) {
    rusm::send(to, 1, text.as_bytes()).unwrap();
}

macro_rules! check {
    ($to:expr, $cond:expr) => {
        if !$cond {
            report($to, &format!("FAIL line {}: {}", line!(), stringify!($cond)));
            rusm::exit_error("check failed");
        }
    };
}

#[no_mangle]
pub extern "C" fn echo() {
    loop {
        let m = rusm::receive();
        if rusm::send(m.from, m.tag, &m.data).is_err() {
            return;
        }
    }
}

#[no_mangle]
pub extern "C" fn crasher() {
    rusm::exit_error("boom");
}

#[no_mangle]
pub extern "C" fn all(reporter: u64) {
    let r = Pid(reporter);
    check!(r, rusm::abi_version() == rusm::sys::ABI_VERSION);
    let me = rusm::self_pid();
    check!(r, me.0 != 0 && rusm::is_alive(me));

    // Messages: a round trip, one larger than the first read, selective receive.
    let echo = rusm::spawn_link("echo", &[]).unwrap();
    rusm::send(echo, 7, b"hello").unwrap();
    let m = rusm::receive();
    check!(r, m.tag == 7 && m.from == echo && m.data == b"hello");
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    rusm::send(echo, 8, &big).unwrap();
    let m = rusm::receive();
    check!(r, m.data == big);
    rusm::send(echo, 10, b"first").unwrap();
    rusm::send(echo, 11, b"second").unwrap();
    let second = rusm::receive_tag(11, Some(Duration::from_secs(5)));
    check!(r, second.map(|m| m.text()) == Some("second".to_string()));
    check!(r, rusm::receive().text() == "first");
    check!(r, rusm::receive_timeout(Duration::from_millis(5)).is_none());
    check!(r, rusm::send(echo, rusm::TAG_DOWN, b"x") == Err(rusm::Error(rusm::sys::EBADARG)));

    // Monitors and links: a DOWN for an ended process, an EXIT when trapping.
    let s = rusm::spawn_with("crasher", &[], SpawnOptions { monitor: true, ..Default::default() })
        .unwrap();
    let down = rusm::receive_tag(rusm::TAG_DOWN, Some(Duration::from_secs(5))).unwrap();
    let exit = down.exit().unwrap();
    check!(r, exit.from == s.pid && exit.monitor == s.monitor && exit.detail.contains("boom"));
    rusm::trap_exit(true).unwrap();
    let c = rusm::spawn_link("crasher", &[]).unwrap();
    let m = rusm::receive_tag(rusm::TAG_EXIT, Some(Duration::from_secs(5))).unwrap();
    let exit = m.exit().unwrap();
    check!(r, exit.from == c && exit.kind == 5 && exit.detail.contains("boom"));

    // The registry.
    rusm::register("rust-all").unwrap();
    check!(r, rusm::whereis("rust-all") == Some(me));
    check!(r, rusm::whereis("nobody").is_none());

    // The key-value store (bucket "app" granted).
    let b = Bucket::open("app").unwrap();
    b.put(b"k", b"v1").unwrap();
    check!(r, b.get(b"k").unwrap() == Some(b"v1".to_vec()));
    let long = vec![b'x'; 1000];
    b.put(b"long", &long).unwrap();
    check!(r, b.get(b"long").unwrap() == Some(long));
    check!(r, b.get(b"missing").unwrap().is_none());
    check!(r, b.incr(b"n", 5).unwrap() == 5 && b.incr(b"n", 1).unwrap() == 6);
    check!(r, !b.compare_and_swap(b"k", Some(b"v0"), b"v2").unwrap());
    check!(r, b.compare_and_swap(b"k", Some(b"v1"), b"v2").unwrap());
    check!(r, b.compare_and_swap(b"new", None, b"1").unwrap());
    check!(r, b.delete(b"k").unwrap() && !b.delete(b"k").unwrap());
    check!(r, Bucket::open("secret").err() == Some(rusm::Error(rusm::sys::EDENIED)));
    report(r, "ok");
}

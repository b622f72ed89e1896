// Conformance guest of the Rust SDK (guest/rust/rusm): the ABI through the
// crate's safe API. Each entry reports "ok" (tag 1), after the number of
// checks it passed (tag 2), or the first failure, to the reporter:
//
// - `all(reporter)`: messages, links, monitors, the registry, the store
//   (bucket "app"), timers, supervisors, and the refusals of what it was not
//   granted (pubsub, crypto, net). runtime.KvRuntimeTest.TheRustSdkConformanceGuestPasses
//   spawns it with spawn, registry and kv:app.
// - `more(reporter)`: topics and crypto (caps pubsub, crypto) and fetch's
//   refusals of bad requests (cap net, any host).
// - `fetch_all(reporter, port)`: fetch against the test server of
//   guest/rust/tests/fetch_test.py on 127.0.0.1:port (granted).
//
// As a command, `rusm run t_rust.wasm` runs `all` (with spawn, registry and
// kv only) and `more` and prints "t_rust: ok (N checks)"; `-- fetch PORT`
// runs `fetch_all`.
use rusm::crypto::{self, Hash, Key, KeyKind};
use rusm::fetch::Request;
use rusm::{
    caps, Bucket, ChildSpec, Error, Pid, Restart, SpawnOptions, Strategy, Supervisor, SupervisorOptions,
};
use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static CHECKS: AtomicU32 = AtomicU32::new(0);

fn report(to: Pid, text: &str) {
    rusm::send(to, 1, text.as_bytes()).unwrap();
}

fn report_ok(to: Pid) {
    rusm::send(to, 2, &CHECKS.load(Ordering::Relaxed).to_le_bytes()).unwrap();
    report(to, "ok");
}

macro_rules! check {
    ($to:expr, $cond:expr) => {
        if !$cond {
            report($to, &format!("FAIL line {}: {}", line!(), stringify!($cond)));
            rusm::exit_error("check failed");
        }
        CHECKS.fetch_add(1, Ordering::Relaxed);
    };
}

const SECOND: Option<Duration> = Some(Duration::from_secs(5));

/// A panic (an `unwrap` that found an error) is reported as a failure with
/// its message and line before the process traps.
fn report_panics(r: Pid) {
    std::panic::set_hook(Box::new(move |info| report(r, &format!("FAIL {}", info))));
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
    report_panics(r);
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
    let s = rusm::spawn_with("crasher", &[], SpawnOptions { monitor: true, ..Default::default() }).unwrap();
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
    // Names on a node alone: send_named to this node, global names.
    check!(r, rusm::node_self() == 0 && rusm::nodes().is_empty());
    rusm::send_named(rusm::node_self(), "rust-all", 12, b"named").unwrap();
    check!(r, rusm::receive_tag(12, SECOND).map(|m| m.text()) == Some("named".to_string()));
    check!(r, rusm::send_named(0, "nobody", 12, b"x") == Err(Error::NOTFOUND));
    check!(r, rusm::register_global("rust-global").is_ok());
    check!(r, rusm::whereis_global("rust-global") == Some(me));
    check!(r, rusm::register_global("rust-global") == Err(Error::EXISTS));
    rusm::send_global("rust-global", 13, b"global").unwrap();
    check!(r, rusm::receive_tag(13, SECOND).map(|m| m.from) == Some(me));
    check!(r, rusm::unregister_global("rust-global").is_ok());
    check!(r, rusm::whereis_global("rust-global").is_none());
    check!(r, rusm::send_global("rust-global", 13, b"x") == Err(Error::NOTFOUND));
    check!(r, rusm::node_name(rusm::node_self()).is_ok());
    check!(r, rusm::monitor_node(7, true).is_ok()); // not up: NODE_DOWN at once
    let down = rusm::receive_tag(rusm::TAG_NODE_DOWN, SECOND);
    check!(r, down.map_or(false, |m| m.data.get(..2) == Some(&7u16.to_le_bytes()[..])));
    check!(r, rusm::monitor_node(7, false).is_ok());
    check!(r, rusm::unregister("rust-all") == Ok(true) && rusm::unregister("rust-all") == Ok(false));
    check!(r, rusm::whereis("rust-all").is_none());

    // The key-value store (bucket "app" granted; a file kept from an
    // earlier run starts clean).
    let b = Bucket::open("app").unwrap();
    for k in [&b"k"[..], b"long", b"n", b"new", b"l/a", b"l/b", b"l/c", b"m"] {
        b.delete(k).unwrap();
    }
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
    check!(r, !b.delete_if(b"new", b"2").unwrap() && b.delete_if(b"new", b"1").unwrap());
    check!(r, b.get(b"new").unwrap().is_none());
    // Batches: all or nothing; lists: pages in byte order.
    use rusm::{Batch, BatchOp, KvEntry};
    let ok = b.batch(&[BatchOp::CheckAbsent(b"l/a"), BatchOp::Put(b"l/a", b"1"), BatchOp::Put(b"l/c", b"3")]);
    check!(r, ok == Ok(Batch::Applied));
    let no =
        b.batch(&[BatchOp::Put(b"l/b", b"2"), BatchOp::Check(b"l/a", b"1"), BatchOp::Check(b"l/c", b"x")]);
    check!(r, no == Ok(Batch::Conflict(2)));
    check!(r, b.get(b"l/b").unwrap().is_none());
    check!(r, b.batch(&[BatchOp::Put(b"l/b", b"2"), BatchOp::Delete(b"m")]) == Ok(Batch::Applied));
    let page = b.list(b"l/", b"", true).unwrap();
    let want = |k: &[u8], v: &[u8]| KvEntry { key: k.to_vec(), value: Some(v.to_vec()) };
    check!(r, page == vec![want(b"l/a", b"1"), want(b"l/b", b"2"), want(b"l/c", b"3")]);
    let keys = b.list(b"l/", b"l/a", false).unwrap();
    check!(r, keys.len() == 2 && keys[0].key == b"l/b" && keys[0].value.is_none());
    check!(r, b.list(b"l/", b"l/c", false).unwrap().is_empty());
    check!(r, Bucket::open("secret").err() == Some(rusm::Error(rusm::sys::EDENIED)));
    drop(b);

    timers(r);
    supervisors(r);

    // What `all` was not granted is refused, and says so.
    check!(r, rusm::subscribe("t/rust") == Err(Error::DENIED));
    check!(r, rusm::publish("t/rust", 5, b"x") == Err(Error::DENIED));
    check!(r, crypto::digest(Hash::Sha256, b"abc") == Err(Error::DENIED));
    check!(r, crypto::random_bytes(8) == Err(Error::DENIED));
    check!(r, Key::generate(KeyKind::Ed25519, false).err() == Some(Error::DENIED));
    check!(r, Request::get("http://127.0.0.1:9/").send().err() == Some(Error::DENIED));
    check!(r, rusm::fetch::get("https://example.com/").err() == Some(Error::DENIED));
    report_ok(r);
}

fn timers(r: Pid) {
    let me = rusm::self_pid();
    let t = rusm::send_after(Duration::from_millis(20), me, 20, b"tick").unwrap();
    check!(r, t.0 > 0);
    let m = rusm::receive_tag(20, SECOND);
    check!(r, m.map(|m| m.data) == Some(b"tick".to_vec()));
    check!(r, t.cancel().is_none()); // it fired
                                     // A cancelled timer tells what was left and never fires.
    let t = rusm::send_after(Duration::from_secs(10), me, 21, b"never").unwrap();
    let left = t.cancel();
    check!(r, left.map_or(false, |d| d > Duration::from_secs(5) && d <= Duration::from_secs(10)));
    check!(r, t.cancel().is_none());
    check!(r, rusm::receive_tag(21, Some(Duration::from_millis(50))).is_none());
    // Timers keep their order; a reserved tag is refused.
    rusm::send_after(Duration::from_millis(30), me, 22, b"second").unwrap();
    rusm::send_after(Duration::from_millis(1), me, 22, b"first").unwrap();
    check!(r, rusm::receive_tag(22, SECOND).unwrap().text() == "first");
    check!(r, rusm::receive_tag(22, SECOND).unwrap().text() == "second");
    check!(r, rusm::send_after(Duration::from_millis(1), me, rusm::TAG_EXIT, b"") == Err(Error::BADARG));
}

/// A supervised child: says who it is (tag 30) to `boss`, then waits; "crash"
/// (tag 31) makes it crash.
#[no_mangle]
pub extern "C" fn sup_worker(boss: u64) {
    rusm::send(Pid(boss), 30, &rusm::self_pid().0.to_le_bytes()).unwrap();
    loop {
        let m = rusm::receive();
        if m.tag == 31 {
            rusm::exit_error("told to crash");
        }
    }
}

fn started(r: Pid) -> Pid {
    let m = rusm::receive_tag(30, SECOND);
    check!(r, m.is_some());
    let m = m.unwrap();
    let pid = Pid(u64::from_le_bytes(m.data[..8].try_into().unwrap()));
    check!(r, pid == m.from);
    pid
}

fn supervisors(r: Pid) {
    let me = rusm::self_pid().0;
    // one_for_one: a crashed child is restarted, a terminated one is not.
    let sup =
        Supervisor::start(SupervisorOptions::default(), &[ChildSpec::new("w", "sup_worker", &[me])]).unwrap();
    check!(r, sup.pid.0 != 0 && rusm::is_alive(sup.pid));
    let first = started(r);
    check!(r, sup.which_children(SECOND).unwrap() == vec![first]);
    rusm::send(first, 31, b"crash").unwrap();
    let second = started(r);
    check!(r, second != first && !rusm::is_alive(first));
    check!(r, sup.which_children(SECOND).unwrap() == vec![second]);
    check!(r, sup.terminate_child(second, SECOND).is_ok());
    check!(r, sup.which_children(SECOND).unwrap().is_empty());
    check!(r, sup.terminate_child(second, SECOND) == Err(Error::NOTFOUND));
    check!(r, sup.start_child(&[me], SECOND) == Err(Error::BADARG)); // not simple_one_for_one
    check!(r, rusm::receive_tag(30, Some(Duration::from_millis(50))).is_none());

    // simple_one_for_one: children from a template, the arguments completed.
    let o = SupervisorOptions { strategy: Strategy::SimpleOneForOne, ..Default::default() };
    let pool =
        Supervisor::start(o, &[ChildSpec::new("t", "sup_worker", &[]).restart(Restart::Transient)]).unwrap();
    check!(r, pool.which_children(SECOND).unwrap().is_empty());
    let a = pool.start_child(&[me], SECOND).unwrap();
    check!(r, started(r) == a);
    let b = pool.start_child(&[me], SECOND).unwrap();
    check!(r, started(r) == b);
    check!(r, pool.which_children(SECOND).unwrap() == vec![a, b]);
    check!(r, pool.start_child(&[], SECOND) == Err(Error::BADARG)); // sup_worker takes one
    rusm::send(a, 31, b"crash").unwrap();
    let a2 = started(r); // transient: restarted after a crash, with its arguments
    check!(r, pool.which_children(SECOND).unwrap() == vec![b, a2]);

    // one_for_all: a crash restarts both; rest_for_one: the crashed child
    // and those started after it.
    let pair = [ChildSpec::new("a", "sup_worker", &[me]), ChildSpec::new("b", "sup_worker", &[me])];
    let all_sup =
        Supervisor::start(SupervisorOptions { strategy: Strategy::OneForAll, ..Default::default() }, &pair)
            .unwrap();
    let mut before = vec![started(r), started(r)];
    before.sort_by_key(|p| p.0);
    let kids = all_sup.which_children(SECOND).unwrap();
    let mut sorted = kids.clone();
    sorted.sort_by_key(|p| p.0);
    check!(r, sorted == before);
    rusm::send(kids[0], 31, b"crash").unwrap();
    let after = [started(r), started(r)];
    check!(r, !before.contains(&after[0]) && !before.contains(&after[1]));
    check!(r, !rusm::is_alive(kids[1])); // the sibling was restarted too
    let rest =
        Supervisor::start(SupervisorOptions { strategy: Strategy::RestForOne, ..Default::default() }, &pair)
            .unwrap();
    started(r);
    started(r);
    let kids = rest.which_children(SECOND).unwrap();
    rusm::send(kids[1], 31, b"crash").unwrap(); // the last: only it
    let b2 = started(r);
    check!(r, rusm::receive_tag(30, Some(Duration::from_millis(50))).is_none());
    check!(r, rest.which_children(SECOND).unwrap() == vec![kids[0], b2]);

    // Past its restart intensity a supervisor gives up (trapping: its EXIT).
    let fragile = SupervisorOptions { max_restarts: 0, ..Default::default() };
    let gone = Supervisor::start(fragile, &[ChildSpec::new("w", "sup_worker", &[me])]).unwrap();
    rusm::send(started(r), 31, b"crash").unwrap();
    let mut exit = None;
    while let Some(m) = rusm::receive_tag(rusm::TAG_EXIT, SECOND) {
        if m.exit().map(|e| e.from) == Some(gone.pid) {
            exit = m.exit();
            break;
        }
    }
    check!(r, exit.map_or(false, |e| e.kind != rusm::reason::NORMAL) && !rusm::is_alive(gone.pid));

    // Bad specs.
    let missing = Supervisor::start(SupervisorOptions::default(), &[ChildSpec::new("x", "no_such_fn", &[])]);
    check!(r, missing.err() == Some(Error::NOTFOUND));
    let two = Supervisor::start(
        o,
        &[ChildSpec::new("a", "sup_worker", &[]), ChildSpec::new("b", "sup_worker", &[])],
    );
    check!(r, two.err() == Some(Error::BADARG));
    let dead = Supervisor { pid: Pid(first.0) };
    check!(r, dead.which_children(SECOND) == Err(Error::NOPROC));
}

/// Subscribes to `topic` 1 ("t/rust"), says so (tag 40), then sends back
/// every message of the topic with tag 41 until told to stop (tag 42).
#[no_mangle]
pub extern "C" fn topic_listener(boss: u64) {
    let boss = Pid(boss);
    rusm::subscribe("t/rust").unwrap();
    rusm::send(boss, 40, b"").unwrap();
    loop {
        let m = rusm::receive();
        if m.tag == 42 {
            return;
        }
        let mut back = m.tag.to_le_bytes().to_vec();
        back.extend_from_slice(&m.from.0.to_le_bytes());
        back.extend_from_slice(&m.data);
        rusm::send(boss, 41, &back).unwrap();
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[no_mangle]
pub extern "C" fn more(reporter: u64) {
    let r = Pid(reporter);
    report_panics(r);
    let me = rusm::self_pid();

    // Topics: this process and a listener.
    rusm::subscribe("t/rust").unwrap();
    rusm::subscribe("t/rust").unwrap(); // twice is once
    check!(r, rusm::publish("t/rust", 5, b"to me") == Ok(1));
    let m = rusm::receive_tag(5, SECOND).unwrap();
    check!(r, m.from == me && m.data == b"to me");
    let l = rusm::spawn_link("topic_listener", &[me.0]).unwrap();
    check!(r, rusm::receive_tag(40, SECOND).is_some());
    check!(r, rusm::publish("t/rust", 6, b"to both") == Ok(2));
    check!(r, rusm::receive_tag(6, SECOND).unwrap().text() == "to both");
    let back = rusm::receive_tag(41, SECOND).unwrap();
    check!(
        r,
        back.from == l && back.data[..8] == 6u64.to_le_bytes() && back.data[8..16] == me.0.to_le_bytes()
    );
    check!(r, &back.data[16..] == b"to both");
    check!(r, rusm::unsubscribe("t/rust") == Ok(true));
    check!(r, rusm::unsubscribe("t/rust") == Ok(false));
    check!(r, rusm::publish("t/rust", 7, b"to it") == Ok(1));
    check!(r, rusm::receive_tag(41, SECOND).is_some());
    check!(r, rusm::receive_tag(7, Some(Duration::from_millis(50))).is_none());
    check!(r, rusm::publish("t/nobody", 7, b"x") == Ok(0));
    check!(r, rusm::subscribe("") == Err(Error::BADARG));
    check!(r, rusm::publish("t/rust", rusm::TAG_DOWN, b"x") == Err(Error::BADARG));
    rusm::send(l, 42, b"").unwrap();

    // Crypto against known vectors (FIPS 180-2, RFC 4231 case 2, RFC 5869 case 1).
    check!(
        r,
        crypto::hex(&crypto::sha256(b"abc").unwrap())
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    check!(
        r,
        crypto::digest(Hash::Sha256, b"").unwrap()
            == unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    check!(r, crypto::digest(Hash::Sha512, b"abc").unwrap().len() == 64);
    check!(r, crypto::digest(Hash::Sha384, b"abc").unwrap().len() == 48);
    check!(r, crypto::digest(Hash::Blake2b512, b"abc").unwrap().len() == 64);
    check!(r, crypto::digest(Hash::Blake2s256, b"abc").unwrap().len() == 32);
    check!(
        r,
        crypto::hmac(Hash::Sha256, b"Jefe", b"what do ya want for nothing?").unwrap()
            == unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
    let salt: Vec<u8> = (0u8..=12).collect();
    let info: Vec<u8> = (0xf0u8..=0xf9).collect();
    check!(
        r,
        crypto::hkdf(Hash::Sha256, &[0x0b; 22], &salt, &info, 42).unwrap()
            == unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    );
    let x = crypto::random_bytes(32).unwrap();
    let y = crypto::random_bytes(32).unwrap();
    check!(r, x.len() == 32 && x != y);
    check!(r, crypto::equal(&x, &x.clone()) && !crypto::equal(&x, &y) && !crypto::equal(&x, &x[..31]));

    // AEAD: a round trip; a changed byte or other associated data is refused.
    let key = Key::generate(KeyKind::Aes256Gcm, false).unwrap();
    let nonce = [7u8; 12];
    let sealed = key.seal(&nonce, b"aad", b"secret message").unwrap();
    check!(r, sealed.len() == 14 + 16);
    check!(r, key.open(&nonce, b"aad", &sealed).unwrap() == b"secret message");
    let mut bent = sealed.clone();
    bent[0] ^= 1;
    check!(r, key.open(&nonce, b"aad", &bent) == Err(Error::AUTH));
    check!(r, key.open(&nonce, b"other", &sealed) == Err(Error::AUTH));
    check!(r, key.export() == Err(Error::DENIED));
    check!(r, key.public_key() == Err(Error::BADARG));
    let raw = [9u8; 16];
    let k128 = Key::import(KeyKind::Aes128Gcm, &raw, true).unwrap();
    check!(r, k128.export().unwrap() == raw && k128.kind() == KeyKind::Aes128Gcm);
    check!(r, Key::import(KeyKind::Aes128Gcm, &raw[..5], false).err() == Some(Error::BADARG));

    // Signatures: Ed25519 is deterministic, so an exported and re-imported
    // key signs alike; P-256 verifies.
    let ed = Key::generate(KeyKind::Ed25519, true).unwrap();
    let public = ed.public_key().unwrap();
    let sig = ed.sign(b"signed").unwrap();
    check!(r, public.len() == 32 && sig.len() == 64);
    check!(r, crypto::verify(KeyKind::Ed25519, &public, b"signed", &sig) == Ok(true));
    check!(r, crypto::verify(KeyKind::Ed25519, &public, b"Signed", &sig) == Ok(false));
    let again = Key::import(KeyKind::Ed25519, &ed.export().unwrap(), false).unwrap();
    check!(r, again.sign(b"signed").unwrap() == sig);
    let p256 = Key::generate(KeyKind::EcdsaP256, false).unwrap();
    let p256_public = p256.public_key().unwrap();
    check!(r, p256_public.len() == 65);
    let sig = p256.sign(b"data").unwrap();
    check!(r, crypto::verify(KeyKind::EcdsaP256, &p256_public, b"data", &sig) == Ok(true));
    check!(r, crypto::verify(KeyKind::EcdsaP256, &p256_public, b"date", &sig) == Ok(false));
    check!(r, crypto::verify(KeyKind::Ed25519, b"short", b"data", &sig) == Err(Error::BADARG));

    // Spawn options: a child asked for fewer capabilities has fewer.
    let s = rusm::spawn_with(
        "caps_probe",
        &[me.0],
        SpawnOptions { caps: Some(caps::SPAWN), label: "probe", monitor: true, ..Default::default() },
    )
    .unwrap();
    check!(r, rusm::receive_tag(50, SECOND).unwrap().text() == "pubsub EDENIED (-4)");
    check!(r, rusm::receive_tag(rusm::TAG_DOWN, SECOND).unwrap().exit().unwrap().monitor == s.monitor);
    check!(r, rusm::set_label("t_rust more").is_ok());
    check!(r, rusm::process_info(me).unwrap().contains("label=t_rust more"));
    check!(r, rusm::node_self() == 0 && rusm::nodes().is_empty());

    // fetch checks the request once net is granted: bad URL, method, header.
    check!(r, Request::get("ftp://127.0.0.1/").send().err() == Some(Error::BADARG));
    check!(r, Request::new("BAD METHOD", "http://127.0.0.1:9/").send().err() == Some(Error::BADARG));
    report_ok(r);
}

/// Reports (tag 50) what subscribe says with the capabilities it was given.
#[no_mangle]
pub extern "C" fn caps_probe(boss: u64) {
    let said = match rusm::subscribe("t/probe") {
        Ok(()) => "pubsub granted".to_string(),
        Err(e) => format!("pubsub {}", e),
    };
    rusm::send(Pid(boss), 50, said.as_bytes()).unwrap();
}

/// fetch against guest/rust/tests/fetch_test.py's server on 127.0.0.1:port.
#[no_mangle]
pub extern "C" fn fetch_all(reporter: u64, port: u64) {
    let r = Pid(reporter);
    report_panics(r);
    let base = format!("http://127.0.0.1:{}", port);

    let mut res = Request::get(&format!("{}/hello", base)).send().unwrap();
    check!(r, res.status() == 200);
    check!(r, res.header("x-test") == Some("yes") && res.header("X-TEST") == Some("yes"));
    check!(r, res.headers().iter().any(|(n, v)| n == "Content-Type" && v == "text/plain"));
    check!(r, res.content_length() == Some(17));
    check!(r, res.text().unwrap() == "hello from python");
    check!(r, res.read_chunk(&mut [0u8; 8]) == Ok(0)); // at its end
    drop(res);

    // A POST with headers and a body; the server echoes them.
    let mut res = Request::post(&format!("{}/echo?q=1", base))
        .header("X-Req", "abc")
        .header("Content-Type", "application/octet-stream")
        .body(&b"payload \x00\xff"[..])
        .send()
        .unwrap();
    check!(r, res.status() == 201);
    check!(r, res.header("X-Method") == Some("POST") && res.header("X-Path") == Some("/echo?q=1"));
    check!(r, res.header("X-Req") == Some("abc") && res.header("X-Agent") == Some("rusm"));
    check!(r, res.body().unwrap() == b"payload \x00\xff");
    drop(res);

    // A large body through std::io::Read, in reads of at most 256 KiB.
    let n = 600_000usize;
    let mut res = Request::get(&format!("{}/big?n={}", base, n)).send().unwrap();
    check!(r, res.content_length() == Some(n as u64));
    let mut body = Vec::new();
    check!(r, res.read_to_end(&mut body).unwrap() == n);
    check!(r, body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    drop(res);

    // Chunked: the length is not known; small reads.
    let mut res = Request::get(&format!("{}/chunked", base)).send().unwrap();
    check!(r, res.content_length().is_none());
    let mut text = String::new();
    let mut small = [0u8; 3];
    loop {
        let k = res.read_chunk(&mut small).unwrap();
        if k == 0 {
            break;
        }
        text.push_str(std::str::from_utf8(&small[..k]).unwrap());
    }
    check!(r, text == "one two three");
    drop(res);

    // Statuses are answers, redirects are not followed.
    let res = Request::get(&format!("{}/status/404", base)).send().unwrap();
    check!(r, res.status() == 404);
    let res = Request::get(&format!("{}/redirect", base)).send().unwrap();
    check!(r, res.status() == 302 && res.header("Location") == Some("/hello"));

    // Bounds: a slow server, a body over the cap (known at once, or found
    // while reading: the io::Error keeps the code).
    let slow = Request::get(&format!("{}/slow", base)).timeout(Duration::from_millis(200)).send();
    check!(r, slow.err() == Some(Error::TIMEOUT));
    let capped = Request::get(&format!("{}/big?n=5000", base)).max_response(1000).send();
    check!(r, capped.err() == Some(Error::TOOLARGE));
    let mut res = Request::get(&format!("{}/chunked", base)).max_response(5).send().unwrap();
    let e = res.read_to_end(&mut Vec::new()).unwrap_err();
    check!(r, e.get_ref().and_then(|i| i.downcast_ref::<Error>()) == Some(&Error::TOOLARGE));
    drop(res);

    // Refusals: a port not granted, a header the host owns, a bad URL.
    let other = format!("http://127.0.0.1:{}/", port + 1);
    check!(r, Request::get(&other).send().err() == Some(Error::DENIED));
    check!(r, Request::get(&base).header("Host", "x").send().err() == Some(Error::BADARG));
    check!(r, Request::get(&base).header("X-Bad", "a\r\nb").send().err() == Some(Error::BADARG));
    check!(r, Request::get("http://127.0.0.1:notaport/").send().err() == Some(Error::BADARG));
    report_ok(r);
}

/// Spawns `function` (monitored, with `caps` if given) and waits for its
/// report: the number of checks it passed, or None after printing its failure.
fn run(function: &str, args: &[u64], caps: Option<u32>) -> Option<u32> {
    let s = rusm::spawn_with(function, args, SpawnOptions { monitor: true, caps, ..Default::default() })
        .expect("spawn (grant --allow spawn)");
    let mut checks = 0;
    loop {
        let m = rusm::receive();
        match m.tag {
            2 => checks = u32::from_le_bytes(m.data[..4].try_into().unwrap()),
            1 if m.text() == "ok" => return Some(checks),
            1 => {
                println!("t_rust: {}: {}", function, m.text());
                return None;
            }
            rusm::TAG_DOWN if m.reference == s.monitor => {
                println!("t_rust: {} ended without a report: {:?}", function, m.exit());
                return None;
            }
            _ => {}
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let me = rusm::self_pid().0;
    let runs: Vec<(&str, Vec<u64>, Option<u32>)> = match args.get(1).map(|a| a.as_str()) {
        Some("fetch") => {
            let port: u64 = args.get(2).and_then(|p| p.parse().ok()).expect("usage: t_rust fetch PORT");
            vec![("fetch_all", vec![me, port], None)]
        }
        // `all` checks the refusals: it gets neither pubsub, crypto nor net.
        _ => vec![("all", vec![me], Some(caps::SPAWN | caps::REGISTRY | caps::KV)), ("more", vec![me], None)],
    };
    let mut total = 0;
    for (function, a, c) in runs {
        match run(function, &a, c) {
            Some(n) => total += n,
            None => std::process::exit(1),
        }
    }
    println!("t_rust: ok ({} checks)", total);
}

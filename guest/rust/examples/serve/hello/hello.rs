//! HTTP handlers in Rust: each request is its own sandboxed process, started
//! at the route's entry with its request's handle.
//!   rusm serve build/examples/rust/serve/hello/rusm.toml
//!   curl http://127.0.0.1:8084/hello/ada
//!   curl -d 'some bytes' 'http://127.0.0.1:8084/echo?x=1'
//!   curl --data-binary @file http://127.0.0.1:8084/sha256
//!   curl -N 'http://127.0.0.1:8084/count?n=3'
use rusm::http::Request;
use std::io::Write;

const TEXT: (&str, &str) = ("Content-Type", "text/plain");

/// GET /hello/{name}: a greeting from the process that handles it; with
/// `X-Greeting: word` the word replaces "hello".
#[no_mangle]
pub extern "C" fn hello(handle: i32) {
    let req = Request::from_handle(handle);
    let name = req.param("name").unwrap_or_else(|| "stranger".to_string());
    let greeting = req.header("X-Greeting").unwrap_or_else(|| "hello".to_string());
    let body = format!("{}, {}, from rust process {}\n", greeting, name, rusm::self_pid().0);
    req.respond(200, &[TEXT, ("X-Handler", "rust")], body.as_bytes()).ok();
}

/// POST /echo: a chunked response that streams the body back (std::io::copy
/// from the request into its response) between a line about the request and
/// one with the byte count.
#[no_mangle]
pub extern "C" fn echo(handle: i32) {
    let req = Request::from_handle(handle);
    if req.start(200, &[TEXT], None).is_err() {
        return;
    }
    let mut out = &req;
    let agent = req.header("User-Agent").unwrap_or_default();
    let about = format!(
        "{} {} (path {}, query {}) from {}, {} headers, agent {}\n",
        req.method(),
        req.target(),
        req.path(),
        req.query(),
        if req.peer().starts_with("127.0.0.1:") { "localhost" } else { "elsewhere" },
        req.headers().len(),
        agent.split('/').next().unwrap_or("")
    );
    if out.write_all(about.as_bytes()).is_err() {
        return;
    }
    let n = match std::io::copy(&mut &req, &mut out) {
        Ok(n) => n,
        Err(_) => return, // the body was too large (413) or the client left
    };
    out.write_all(format!("\n{} bytes\n", n).as_bytes()).ok();
    req.finish().ok();
}

/// POST /sha256: the SHA-256 of the body, in hex (the route grants crypto).
#[no_mangle]
pub extern "C" fn sha256(handle: i32) {
    let req = Request::from_handle(handle);
    let answer = req.body().and_then(|b| rusm::crypto::sha256(&b));
    match answer {
        Ok(d) => req.respond(200, &[TEXT], format!("{}\n", rusm::crypto::hex(&d)).as_bytes()).ok(),
        Err(e) => req.respond(500, &[TEXT], format!("sha256: {}\n", e).as_bytes()).ok(),
    };
}

/// GET /count?n=N (an sse route): N events `tick` ("1 of N", ...), a
/// second apart at most 10 ms (a timer each: send_after to itself), then an
/// event `done` whose data is the request's target. N is 3 by default, at
/// most 100; anything else is answered 400.
#[no_mangle]
pub extern "C" fn count(handle: i32) {
    let req = Request::from_handle(handle);
    let n: u32 = match req.query_param("n").map(|v| v.parse()) {
        None => 3,
        Some(Ok(n)) if n <= 100 => n,
        _ => {
            req.respond(400, &[TEXT], b"n must be a number up to 100\n").ok();
            return;
        }
    };
    if req.start_events(&[("X-Count", &n.to_string())]).is_err() {
        return;
    }
    const TICK: u64 = 1;
    for i in 1..=n {
        let timer = rusm::send_after(std::time::Duration::from_millis(10), rusm::self_pid(), TICK, &[]);
        if timer.is_err() || rusm::receive_tag(TICK, None).is_none() {
            return;
        }
        if req.send_event("tick", format!("{} of {}", i, n).as_bytes()).is_err() {
            return; // the client left
        }
    }
    req.send_event("done", req.target().as_bytes()).ok();
}

//! The serving wrappers of the Rust SDK (rusm::http, rusm::ws) against the
//! host, error paths included; served by guest/rust/tests/serve_test.py
//! (rusm.toml beside this file), which checks what each handler answers.
use rusm::http::Request;
use rusm::ws::{Frame, WebSocket};
use rusm::Error;
use std::io::Read;

/// Counts checks; the first that fails is returned as "FAIL line N: what".
struct Checks(u32);

macro_rules! check {
    ($c:expr, $cond:expr) => {
        if !$cond {
            return Err(format!("FAIL line {}: {}", line!(), stringify!($cond)));
        }
        $c.0 += 1;
    };
}

/// GET /check?a=1&b=two with `X-Check: yes`: the request's accessors, and
/// the response's calls in the wrong order. Answers a Content-Length of 32
/// with "ok N checks" (padded) or the failure.
#[no_mangle]
pub extern "C" fn check(handle: i32) {
    let req = Request::from_handle(handle);
    let mut c = Checks(0);
    if let Err(e) = before_start(&req, &mut c) {
        req.respond(500, &[], e.as_bytes()).ok();
        return;
    }
    if req.start(200, &[("Content-Type", "text/plain")], Some(32)).is_err() {
        return;
    }
    let line = match after_start(&req, &mut c) {
        Ok(()) => format!("ok {} checks", c.0),
        Err(e) => e,
    };
    let mut body = format!("{:<31}\n", line).into_bytes();
    body.truncate(32);
    req.write(&body).ok();
    // Past the length, then the end.
    if req.write(b"x") == Err(Error::BADSTATE) {
        req.finish().ok();
    }
}

fn before_start(req: &Request, c: &mut Checks) -> Result<(), String> {
    check!(c, req.method() == "GET");
    check!(c, req.target() == "/check?a=1&b=two");
    check!(c, req.path() == "/check" && req.query() == "a=1&b=two");
    check!(c, req.query_param("b") == Some("two".to_string()) && req.query_param("c").is_none());
    check!(c, req.header("x-check") == Some("yes".to_string()));
    check!(c, req.header("X-Missing").is_none());
    check!(c, req.headers().iter().any(|(n, v)| n.eq_ignore_ascii_case("X-Check") && v == "yes"));
    check!(c, req.param("nope").is_none());
    check!(c, req.peer().starts_with("127.0.0.1:"));
    let mut buf = [0u8; 16];
    check!(c, req.read(&mut buf) == Ok(0)); // a GET has no body
    check!(c, req.body() == Ok(Vec::new()));
    // Out of order, and bad headers.
    check!(c, req.write(b"x") == Err(Error::BADSTATE));
    check!(c, req.finish() == Err(Error::BADSTATE));
    check!(c, req.send_event("e", b"x") == Err(Error::BADSTATE));
    check!(c, req.start(200, &[("Bad Name", "v")], None) == Err(Error::BADARG));
    check!(c, req.start(200, &[("X-Bad", "a\rb")], None) == Err(Error::BADARG));
    // Not this process's request, or not a request at all.
    check!(c, Request::from_handle(req.handle() + 1000).write(b"x") == Err(Error::BADARG));
    check!(c, WebSocket::from_handle(req.handle()).send_text("x") == Err(Error::BADARG));
    Ok(())
}

fn after_start(req: &Request, c: &mut Checks) -> Result<(), String> {
    check!(c, req.start(200, &[], None) == Err(Error::BADSTATE));
    check!(c, req.respond(200, &[], b"x") == Err(Error::BADSTATE));
    check!(c, req.start_events(&[]) == Err(Error::BADSTATE));
    check!(c, req.finish() == Err(Error::BADSTATE)); // fewer bytes than the length
    Ok(())
}

/// POST /limit (body_bytes 16K): reads the body through std::io::Read and
/// answers 413 itself with what the read said (the code kept in the
/// io::Error), or 200 with the byte count.
#[no_mangle]
pub extern "C" fn limit(handle: i32) {
    let mut req = Request::from_handle(handle);
    let mut body = Vec::new();
    match req.read_to_end(&mut body) {
        Ok(n) => req.respond(200, &[], format!("read {} bytes\n", n).as_bytes()).ok(),
        Err(e) => {
            let code = e.get_ref().and_then(|i| i.downcast_ref::<Error>()).copied();
            let text = format!("read: {:?}, {:?}\n", code, e.kind());
            req.respond(413, &[], text.as_bytes()).ok()
        }
    };
}

/// GET /events (an sse route): a multi-line event, a bad event name, then
/// "done" with "ok N checks" or the failure.
#[no_mangle]
pub extern "C" fn events(handle: i32) {
    let req = Request::from_handle(handle);
    let mut c = Checks(0);
    let result = (|| {
        check!(c, req.start_events(&[("X-Events", "1")]).is_ok());
        check!(c, req.start_events(&[]) == Err(Error::BADSTATE));
        check!(c, req.send_event("lines", b"one\ntwo\r\nthree").is_ok());
        check!(c, req.send_event("", b"no name").is_ok());
        check!(c, req.send_event("bad\nname", b"x") == Err(Error::BADARG));
        Ok(())
    })();
    let last = match result {
        Ok(()) => format!("ok {} checks", c.0),
        Err(e) => e,
    };
    req.send_event("done", last.as_bytes()).ok();
}

/// /ws/{id}?q=1 with `X-Check: yes`: the connection's accessors and bad
/// arguments, then "ready N checks" (or the failure, and a close 4001).
/// "close" makes it close with 4000 "bye"; after that, closing again and
/// sending are refused (ECLOSED), or the process ends with an error that
/// the server logs.
#[no_mangle]
pub extern "C" fn ws_check(handle: i32) {
    let ws = WebSocket::from_handle(handle);
    let mut c = Checks(0);
    match ws_before(&ws, &mut c) {
        Ok(()) => ws.send_text(&format!("ready {} checks", c.0)).ok(),
        Err(e) => {
            ws.send_text(&e).ok();
            ws.close(4001, "failed").ok()
        }
    };
    loop {
        match ws.recv() {
            Frame::Text(t) if t == "close" => {
                ws.close(4000, "bye").ok();
                if ws.close(4000, "again") != Err(Error::CLOSED) || ws.send_text("late") != Err(Error::CLOSED)
                {
                    rusm::exit_error("FAIL: calls after close were not ECLOSED");
                }
            }
            Frame::Text(t) => {
                ws.send_text(&format!("text {}", t)).ok();
            }
            Frame::Binary(b) => {
                ws.send_binary(&b.iter().rev().copied().collect::<Vec<u8>>()).ok();
            }
            // A close this process started ends with its own code (docs/abi.md).
            Frame::Close { code, .. } => {
                if code != 4000 {
                    rusm::exit_error(&format!("FAIL: WS_CLOSE after our close carried {}", code));
                }
                return;
            }
        }
    }
}

fn ws_before(ws: &WebSocket, c: &mut Checks) -> Result<(), String> {
    check!(c, ws.param("id") == Some("a b".to_string())); // percent-decoded
    check!(c, ws.param("nope").is_none());
    check!(c, ws.path() == "/ws/a%20b" && ws.query() == "q=1" && ws.query_param("q") == Some("1".into()));
    check!(c, ws.header("x-check") == Some("yes".to_string()) && ws.header("X-None").is_none());
    check!(c, ws.ping(&[0u8; 126]) == Err(Error::BADARG));
    check!(c, ws.ping(b"hi").is_ok());
    check!(c, ws.close(1005, "") == Err(Error::BADARG));
    check!(c, ws.close(1000, &"x".repeat(124)) == Err(Error::BADARG));
    check!(c, Request::from_handle(ws.handle()).write(b"x") == Err(Error::BADARG));
    check!(c, WebSocket::from_handle(ws.handle() + 1000).send_text("x") == Err(Error::BADARG));
    Ok(())
}

//! A WebSocket chat with rooms, on topics (examples/serve/chat/rusm.toml).
//!
//! handle(ws): one process per connection to /chat/{room}?name=NAME. It
//! subscribes to the topic "chat/ROOM", so every line published there lands
//! in its mailbox, and one receive loop serves both sides: a text frame from
//! its client is published as "NAME: text", a line from the topic goes out
//! to the client, and the connection's close publishes "* NAME left". No
//! process holds the room: a member that crashes is unsubscribed by the
//! node, and a room with nobody in it costs nothing.
//!
//! Commands: "/quit" makes the server close the connection (1000, "goodbye
//! NAME"). Binary messages are answered "* text only, please".
use rusm::ws::{Frame, WebSocket};

/// A line for the room's members (the payload is the line).
const TAG_LINE: u64 = 1;

/// At most 24 bytes of [A-Za-z0-9_-] from `s`; `fallback` if none.
fn clean(s: Option<String>, fallback: &str) -> String {
    let s: String = s
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(24)
        .collect();
    if s.is_empty() {
        fallback.to_string()
    } else {
        s
    }
}

#[no_mangle]
pub extern "C" fn handle(handle: i32) {
    let ws = WebSocket::from_handle(handle);
    let room = clean(ws.param("room"), "lobby");
    let name = clean(ws.query_param("name"), "guest");
    let topic = format!("chat/{}", room);
    rusm::set_label(&format!("chat:{}@{}", name, room)).ok();
    if let Err(e) = rusm::subscribe(&topic) {
        ws.close(1011, &format!("cannot join: {}", e)).ok();
        return;
    }
    let say = |line: &str| rusm::publish(&topic, TAG_LINE, line.as_bytes()).ok();
    if ws.send_text(&format!("welcome {} to {} ({})", name, room, ws.path())).is_err() {
        return;
    }
    say(&format!("* {} joined", name));
    loop {
        let m = rusm::receive();
        match m.ws_frame() {
            Some(Frame::Text(text)) if text == "/quit" => {
                ws.close(1000, &format!("goodbye {}", name)).ok(); // Frame::Close follows
            }
            Some(Frame::Text(text)) => {
                say(&format!("{}: {}", name, text));
            }
            Some(Frame::Binary(_)) => {
                ws.send_text("* text only, please").ok();
            }
            Some(Frame::Close { .. }) => {
                say(&format!("* {} left", name));
                return;
            }
            None if m.tag == TAG_LINE => {
                // A closed connection still gives its Frame::Close: leave then.
                ws.send_text(&m.text()).ok();
            }
            None => {}
        }
    }
}

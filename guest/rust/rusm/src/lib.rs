//! rusm for Rust guests: processes, messages, links, monitors, the registry
//! and the node's key-value store, over the `rusm` ABI (docs/abi.md).
//!
//! No dependencies; builds with Debian's rustc 1.63 for `wasm32-wasi`. The raw
//! imports are in [`sys`], generated from abi/rusm.toml by scripts/abi.py.
//! Processes run exported functions of the same module:
//!
//! ```ignore
//! #[no_mangle]
//! pub extern "C" fn worker(parent: u64) {
//!     let m = rusm::receive();
//!     rusm::send(rusm::Pid(parent), m.tag, &m.data).unwrap();
//! }
//! let pid = rusm::spawn("worker", &[rusm::self_pid().0])?;
//! ```
//!
//! Supervisors, timers and serving are reached through [`sys`] for now.
pub mod sys;

use std::time::Duration;

/// Tags the runtime uses for system messages (guest/c/rusm.h).
pub const TAG_EXIT: u64 = 0xFFFF_FFFF_FFFF_FF01;
pub const TAG_DOWN: u64 = 0xFFFF_FFFF_FFFF_FF02;
/// Tags at or above this cannot be sent by a guest.
pub const TAG_RESERVED: u64 = 0xFFFF_FFFF_FFFF_FF00;

/// A process, on this node or another: 64 bits, location-transparent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Pid(pub u64);

/// An error code of the ABI (`sys::E*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Error(pub i32);

impl Error {
    pub fn name(self) -> &'static str {
        match self.0 {
            sys::ETIMEOUT => "ETIMEOUT",
            sys::ENOPROC => "ENOPROC",
            sys::EBADARG => "EBADARG",
            sys::EDENIED => "EDENIED",
            sys::ENOTFOUND => "ENOTFOUND",
            sys::EEXISTS => "EEXISTS",
            sys::EFULL => "EFULL",
            sys::ENOMSG => "ENOMSG",
            sys::ELIMIT => "ELIMIT",
            sys::ENOTSUP => "ENOTSUP",
            sys::ECLOSED => "ECLOSED",
            sys::ETOOLARGE => "ETOOLARGE",
            sys::EBADSTATE => "EBADSTATE",
            sys::ENOTCONN => "ENOTCONN",
            sys::EAUTH => "EAUTH",
            sys::ECONFLICT => "ECONFLICT",
            sys::EIO => "EIO",
            _ => "E?",
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

fn check(r: i32) -> Result<i32> {
    if r < 0 {
        Err(Error(r))
    } else {
        Ok(r)
    }
}

fn check64(r: i64) -> Result<u64> {
    if r < 0 {
        Err(Error(r as i32))
    } else {
        Ok(r as u64)
    }
}

fn nanos(timeout: Option<Duration>) -> i64 {
    timeout.map_or(-1, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}

pub fn abi_version() -> i32 {
    unsafe { sys::abi_version() }
}

pub fn self_pid() -> Pid {
    Pid(unsafe { sys::self_() })
}

pub fn parent() -> Pid {
    Pid(unsafe { sys::parent() })
}

/// How a process ended, as an EXIT or DOWN message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    pub from: Pid,
    pub kind: u32, // sys-level kind: 0 normal, 1 shutdown, 2 killed, 4 noproc, 5 error, 6 noconnection
    pub detail: String,
    pub monitor: u64, // DOWN: the monitor's reference; EXIT: 0
}

/// A received message.
#[derive(Clone, Debug)]
pub struct Message {
    pub tag: u64,
    pub from: Pid,
    pub reference: u64,
    pub data: Vec<u8>,
}

impl Message {
    /// The exit this EXIT or DOWN message reports.
    pub fn exit(&self) -> Option<Exit> {
        let u32_at = |i: usize| u32::from_le_bytes(self.data[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_le_bytes(self.data[i..i + 8].try_into().unwrap());
        let (base, monitor) = match self.tag {
            TAG_EXIT if self.data.len() >= 16 => (0, 0),
            TAG_DOWN if self.data.len() >= 24 => (8, u64_at(0)),
            _ => return None,
        };
        let len = u32_at(base + 12) as usize;
        let detail = self.data.get(base + 16..base + 16 + len).unwrap_or(&[]);
        Some(Exit {
            from: Pid(u64_at(base)),
            kind: u32_at(base + 8),
            detail: String::from_utf8_lossy(detail).into_owned(),
            monitor,
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

pub fn send(to: Pid, tag: u64, data: &[u8]) -> Result<()> {
    check(unsafe { sys::send(to.0, tag, data.as_ptr(), data.len() as u32) }).map(|_| ())
}

/// Sends to a name registered on this node.
pub fn send_name(name: &str, tag: u64, data: &[u8]) -> Result<()> {
    check(unsafe {
        sys::send_name(name.as_ptr(), name.len() as u32, tag, data.as_ptr(), data.len() as u32)
    })
    .map(|_| ())
}

fn receive_raw(tag: Option<u64>, timeout: Option<Duration>) -> Result<Message> {
    let mut hdr = sys::rusm_msg::default();
    let mut buf = [0u8; 256];
    let n = check(unsafe {
        sys::receive(
            tag.unwrap_or(0),
            tag.is_some() as i32,
            nanos(timeout),
            &mut hdr,
            buf.as_mut_ptr(),
            buf.len() as u32,
        )
    })? as usize;
    let mut data = buf[..n.min(buf.len())].to_vec();
    if n > buf.len() {
        data.resize(n, 0);
        let rest = &mut data[buf.len()..];
        check(unsafe { sys::message_read(buf.len() as u32, rest.as_mut_ptr(), rest.len() as u32) })?;
    }
    Ok(Message { tag: hdr.tag, from: Pid(hdr.from), reference: hdr.ref_, data })
}

/// The oldest message in the mailbox, waiting as long as it takes.
pub fn receive() -> Message {
    receive_raw(None, None).expect("receive without a timeout cannot time out")
}

/// The oldest message, or None after `timeout`.
pub fn receive_timeout(timeout: Duration) -> Option<Message> {
    receive_raw(None, Some(timeout)).ok()
}

/// The oldest message with `tag` (selective receive: others stay queued), or
/// None after `timeout` (None: wait forever).
pub fn receive_tag(tag: u64, timeout: Option<Duration>) -> Option<Message> {
    receive_raw(Some(tag), timeout).ok()
}

/// Options of a spawn.
#[derive(Clone, Copy, Default, Debug)]
pub struct SpawnOptions {
    pub link: bool,
    pub monitor: bool,
    pub trap_exit: bool,
    /// Capabilities the child asks for (`sys::CAP_*` bits of rusm.h), never
    /// more than the parent's; None: inherit.
    pub caps: Option<u32>,
    pub max_memory_pages: u32,
}

/// A spawned process and, with `monitor`, the monitor's reference.
#[derive(Clone, Copy, Debug)]
pub struct Spawned {
    pub pid: Pid,
    pub monitor: u64,
}

/// Starts exported function `function` of this module in a new process with
/// `args` (one per i32/i64 parameter).
pub fn spawn_with(function: &str, args: &[u64], o: SpawnOptions) -> Result<Spawned> {
    let flags = (o.link as u32) | (o.monitor as u32) << 1 | (o.trap_exit as u32) << 2
        | (o.caps.is_some() as u32) << 3;
    let opts = sys::rusm_spawn_opts {
        flags,
        caps: o.caps.unwrap_or(0),
        max_memory_pages: o.max_memory_pages,
        ..Default::default()
    };
    let mut out = sys::rusm_spawned::default();
    check(unsafe {
        sys::spawn(
            function.as_ptr(),
            function.len() as u32,
            args.as_ptr(),
            args.len() as u32,
            &opts,
            &mut out,
        )
    })?;
    Ok(Spawned { pid: Pid(out.pid), monitor: out.monitor })
}

pub fn spawn(function: &str, args: &[u64]) -> Result<Pid> {
    spawn_with(function, args, SpawnOptions::default()).map(|s| s.pid)
}

pub fn spawn_link(function: &str, args: &[u64]) -> Result<Pid> {
    spawn_with(function, args, SpawnOptions { link: true, ..Default::default() }).map(|s| s.pid)
}

pub fn link(pid: Pid) -> Result<()> {
    check(unsafe { sys::link(pid.0) }).map(|_| ())
}

pub fn unlink(pid: Pid) -> Result<()> {
    check(unsafe { sys::unlink(pid.0) }).map(|_| ())
}

/// Watches `pid`: exactly one DOWN message (TAG_DOWN) follows its end.
pub fn monitor(pid: Pid) -> Result<u64> {
    check64(unsafe { sys::monitor(pid.0) })
}

/// Exit signals from linked processes become EXIT messages instead of
/// ending this one.
pub fn trap_exit(on: bool) -> Result<()> {
    check(unsafe { sys::trap_exit(on as i32) }).map(|_| ())
}

pub fn is_alive(pid: Pid) -> bool {
    unsafe { sys::is_alive(pid.0) > 0 }
}

/// Ends this process with an error (links and monitors see `detail`).
pub fn exit_error(detail: &str) -> ! {
    unsafe { sys::exit(2, detail.as_ptr(), detail.len() as u32) };
    unreachable!("rusm.exit returned")
}

/// Sends an exit signal to `pid` with an error reason (`kill`: untrappable).
pub fn exit_pid(pid: Pid, detail: &str, kill: bool) -> Result<()> {
    let kind = if kill { 3 } else { 2 };
    check(unsafe { sys::exit_pid(pid.0, kind, detail.as_ptr(), detail.len() as u32) }).map(|_| ())
}

pub fn register(name: &str) -> Result<()> {
    check(unsafe { sys::register(name.as_ptr(), name.len() as u32) }).map(|_| ())
}

pub fn whereis(name: &str) -> Option<Pid> {
    let p = unsafe { sys::whereis(name.as_ptr(), name.len() as u32) };
    if p > 0 {
        Some(Pid(p as u64))
    } else {
        None
    }
}

/// Suspends this process (not the worker thread) for `d`.
pub fn sleep(d: Duration) {
    unsafe { sys::sleep(nanos(Some(d))) }
}

/// A bucket of the node's durable key-value store (docs/kv.md). Every call
/// returns once the store has committed it.
pub struct Bucket(i32);

impl Bucket {
    /// A bucket this process was granted (`--allow kv:NAME`).
    pub fn open(name: &str) -> Result<Bucket> {
        check(unsafe { sys::kv_open(name.as_ptr(), name.len() as u32) }).map(Bucket)
    }
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 256];
        loop {
            let n = unsafe {
                sys::kv_get(self.0, key.as_ptr(), key.len() as u32, buf.as_mut_ptr(), buf.len() as u32)
            };
            if n == sys::ENOTFOUND {
                return Ok(None);
            }
            let n = check(n)? as usize;
            if n <= buf.len() {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            buf.resize(n, 0); // it grew between calls at worst: ask again
        }
    }
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check(unsafe {
            sys::kv_put(self.0, key.as_ptr(), key.len() as u32, value.as_ptr(), value.len() as u32)
        })
        .map(|_| ())
    }
    /// Ok(false) if there was no such key.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        match unsafe { sys::kv_delete(self.0, key.as_ptr(), key.len() as u32) } {
            sys::ENOTFOUND => Ok(false),
            r => check(r).map(|_| true),
        }
    }
    /// Adds `delta` to a decimal integer value (a missing key is 0): the sum.
    pub fn incr(&self, key: &[u8], delta: i64) -> Result<i64> {
        let mut out = 0i64;
        check(unsafe { sys::kv_incr(self.0, key.as_ptr(), key.len() as u32, delta, &mut out) })?;
        Ok(out)
    }
    /// Writes `value` only if the key holds `expected` (None: is absent);
    /// Ok(false) if it holds something else.
    pub fn compare_and_swap(&self, key: &[u8], expected: Option<&[u8]>, value: &[u8]) -> Result<bool> {
        let (e, flags) = match expected {
            Some(e) => (e, 0),
            None => (&[][..], sys::KV_IF_ABSENT),
        };
        let r = unsafe {
            sys::kv_cas(
                self.0,
                key.as_ptr(),
                key.len() as u32,
                e.as_ptr(),
                e.len() as u32,
                value.as_ptr(),
                value.len() as u32,
                flags,
            )
        };
        if r == sys::ECONFLICT {
            return Ok(false);
        }
        check(r).map(|_| true)
    }
}

impl Drop for Bucket {
    fn drop(&mut self) {
        unsafe { sys::kv_close(self.0) };
    }
}

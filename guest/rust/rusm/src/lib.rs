//! rusm for Rust guests, over the `rusm` ABI (docs/abi.md): processes,
//! messages, links, monitors, the registry, timers, supervisors, topics, the
//! cluster's names, the node's key-value store ([`Bucket`]), crypto
//! ([`crypto`]), outbound HTTP ([`fetch`]) and the handlers of `rusm serve`
//! ([`http`] for HTTP and SSE routes, [`ws`] for WebSocket routes).
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
//! Every call that can fail returns [`Result`], whose [`Error`] is the ABI's
//! code (`Error::DENIED`, `Error::TIMEOUT`, ...).
pub mod sys;

use std::time::Duration;

/// Tags the runtime uses for system messages (guest/c/rusm.h).
/// A trapped exit signal ([`trap_exit`]); decode with [`Message::exit`].
pub const TAG_EXIT: u64 = 0xFFFF_FFFF_FFFF_FF01;
/// A monitored process ended; decode with [`Message::exit`].
pub const TAG_DOWN: u64 = 0xFFFF_FFFF_FFFF_FF02;
/// [`monitor_node`]: a node came up / went down (payload: u16 node id).
pub const TAG_NODE_UP: u64 = 0xFFFF_FFFF_FFFF_FF03;
pub const TAG_NODE_DOWN: u64 = 0xFFFF_FFFF_FFFF_FF04;
/// A supervisor's answer that came after its call timed out: skip it.
pub const TAG_SUPERVISOR_REPLY: u64 = 0xFFFF_FFFF_FFFF_FF17;
/// A `spawn_on` answer that came after its call timed out.
pub const TAG_SPAWN_REPLY: u64 = 0xFFFF_FFFF_FFFF_FF18;
/// WebSocket frames of a ws route's connection ([`ws::Frame`]).
pub const TAG_WS_TEXT: u64 = 0xFFFF_FFFF_FFFF_FF20;
pub const TAG_WS_BINARY: u64 = 0xFFFF_FFFF_FFFF_FF21;
pub const TAG_WS_CLOSE: u64 = 0xFFFF_FFFF_FFFF_FF22;
/// Tags at or above this cannot be sent by a guest.
pub const TAG_RESERVED: u64 = 0xFFFF_FFFF_FFFF_FF00;

/// Capability bits, for [`SpawnOptions::caps`] and [`ChildSpec::caps`]
/// (docs/runtime.md). A child never gets more than its parent holds.
pub mod caps {
    pub const STDIO: u32 = 1 << 0;
    pub const ENV: u32 = 1 << 1;
    pub const FS: u32 = 1 << 2;
    pub const CLOCK: u32 = 1 << 3;
    pub const RANDOM: u32 = 1 << 4;
    pub const SPAWN: u32 = 1 << 5;
    pub const PROC: u32 = 1 << 6;
    pub const REGISTRY: u32 = 1 << 7;
    pub const CRYPTO: u32 = 1 << 8;
    pub const PUBSUB: u32 = 1 << 9;
    /// With the buckets the parent was granted (or fewer).
    pub const KV: u32 = 1 << 10;
    /// With the hosts the parent was granted (or fewer).
    pub const NET: u32 = 1 << 11;
}

/// How a process ended (`Exit::kind`, in EXIT and DOWN messages).
pub mod reason {
    pub const NORMAL: u32 = 0;
    pub const SHUTDOWN: u32 = 1;
    pub const KILLED: u32 = 2;
    pub const NOPROC: u32 = 4;
    pub const ERROR: u32 = 5;
    /// The process was on a node that is not (or no longer) connected.
    pub const NOCONNECTION: u32 = 6;
}

/// A process, on this node or another: 64 bits, location-transparent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Pid(pub u64);

/// An error code of the ABI (`sys::E*`); prints as its name and code,
/// `EDENIED (-4)`, also with `{:?}` (so an `unwrap` says which).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error(pub i32);

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl Error {
    pub const TIMEOUT: Error = Error(sys::ETIMEOUT);
    pub const NOPROC: Error = Error(sys::ENOPROC);
    pub const BADARG: Error = Error(sys::EBADARG);
    pub const DENIED: Error = Error(sys::EDENIED);
    pub const NOTFOUND: Error = Error(sys::ENOTFOUND);
    pub const EXISTS: Error = Error(sys::EEXISTS);
    pub const FULL: Error = Error(sys::EFULL);
    pub const NOMSG: Error = Error(sys::ENOMSG);
    pub const LIMIT: Error = Error(sys::ELIMIT);
    pub const NOTSUP: Error = Error(sys::ENOTSUP);
    pub const CLOSED: Error = Error(sys::ECLOSED);
    pub const TOOLARGE: Error = Error(sys::ETOOLARGE);
    pub const BADSTATE: Error = Error(sys::EBADSTATE);
    pub const NOTCONN: Error = Error(sys::ENOTCONN);
    pub const AUTH: Error = Error(sys::EAUTH);
    pub const CONFLICT: Error = Error(sys::ECONFLICT);
    pub const IO: Error = Error(sys::EIO);

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

impl std::error::Error for Error {}

/// For the `std::io` traits ([`fetch::Response`], [`http::Request`]): the
/// code is kept, `io_error.get_ref()` downcasts to [`Error`].
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        use std::io::ErrorKind;
        let kind = match e.0 {
            sys::ETIMEOUT => ErrorKind::TimedOut,
            sys::EDENIED => ErrorKind::PermissionDenied,
            sys::ENOTFOUND => ErrorKind::NotFound,
            sys::ENOTCONN => ErrorKind::ConnectionRefused,
            sys::ECLOSED => ErrorKind::ConnectionAborted,
            sys::EBADARG => ErrorKind::InvalidInput,
            sys::EIO | sys::EAUTH => ErrorKind::InvalidData,
            _ => ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
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

fn check_unit(r: i32) -> Result<()> {
    check(r).map(|_| ())
}

fn nanos(timeout: Option<Duration>) -> i64 {
    timeout.map_or(-1, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}

fn len32(b: &[u8]) -> u32 {
    b.len() as u32
}

/// Calls `f(buf, cap)` (an ABI call that copies up to `cap` bytes and returns
/// the full length) until the buffer was large enough.
fn copy_out(mut f: impl FnMut(*mut u8, u32) -> i32) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = check(f(buf.as_mut_ptr(), buf.len() as u32))? as usize;
        if n <= buf.len() {
            buf.truncate(n);
            return Ok(buf);
        }
        buf.resize(n, 0);
    }
}

fn copy_out_string(f: impl FnMut(*mut u8, u32) -> i32) -> Result<String> {
    copy_out(f).map(|b| String::from_utf8_lossy(&b).into_owned())
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
    check(unsafe { sys::send_name(name.as_ptr(), name.len() as u32, tag, data.as_ptr(), data.len() as u32) })
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
    /// 0: the parent's limit (never more).
    pub max_memory_pages: u32,
    /// Messages the child's mailbox holds at most; 0: unbounded.
    pub mailbox_bound: u32,
    /// Free text shown in process info (`set_label` for one made at run time).
    pub label: &'static str,
}

impl SpawnOptions {
    fn raw(&self) -> sys::rusm_spawn_opts {
        let flags = (self.link as u32)
            | (self.monitor as u32) << 1
            | (self.trap_exit as u32) << 2
            | (self.caps.is_some() as u32) << 3;
        sys::rusm_spawn_opts {
            flags,
            mailbox_bound: self.mailbox_bound,
            max_memory_pages: self.max_memory_pages,
            caps: self.caps.unwrap_or(0),
            label: self.label.as_ptr() as u32,
            label_len: self.label.len() as u32,
        }
    }
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
    let opts = o.raw();
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

/// Spawns and monitors atomically: a DOWN follows even if the child dies at once.
pub fn spawn_monitor(function: &str, args: &[u64]) -> Result<Spawned> {
    spawn_with(function, args, SpawnOptions { monitor: true, ..Default::default() })
}

/// Starts function `function` of the module registered with the runtime as
/// `module`. `ENOTFOUND` for no such module or function.
pub fn spawn_module(module: &str, function: &str, args: &[u64], o: SpawnOptions) -> Result<Spawned> {
    let opts = o.raw();
    let mut out = sys::rusm_spawned::default();
    check(unsafe {
        sys::spawn_module(
            module.as_ptr(),
            module.len() as u32,
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

/// v5: `spawn_module` on node `node` of the cluster (this node's id: here),
/// waiting for the answer at most `timeout` (None: until it comes or the
/// node goes down). `ENOTCONN`, `EDENIED`, `ENOTFOUND`, `ETIMEOUT` (the answer
/// may still come as a [`TAG_SPAWN_REPLY`] message).
pub fn spawn_on(
    node: u16,
    module: &str,
    function: &str,
    args: &[u64],
    o: SpawnOptions,
    timeout: Option<Duration>,
) -> Result<Spawned> {
    let opts = o.raw();
    let mut out = sys::rusm_spawned::default();
    check(unsafe {
        sys::spawn_on(
            node as u32,
            module.as_ptr(),
            module.len() as u32,
            function.as_ptr(),
            function.len() as u32,
            args.as_ptr(),
            args.len() as u32,
            &opts,
            &mut out,
            nanos(timeout),
        )
    })?;
    Ok(Spawned { pid: Pid(out.pid), monitor: out.monitor })
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

/// Stops watching: true if the monitor was active. With `flush`, a DOWN
/// already queued is removed.
pub fn demonitor(monitor: u64, flush: bool) -> bool {
    unsafe { sys::demonitor(monitor, flush as i32) > 0 }
}

/// Exit signals from linked processes become EXIT messages instead of
/// ending this one.
pub fn trap_exit(on: bool) -> Result<()> {
    check(unsafe { sys::trap_exit(on as i32) }).map(|_| ())
}

/// Free text shown in process info and the dashboard.
pub fn set_label(label: &str) -> Result<()> {
    check_unit(unsafe { sys::set_label(label.as_ptr(), label.len() as u32) })
}

/// `key=value` lines about a process (its own: no capability; others': cap proc).
pub fn process_info(pid: Pid) -> Result<String> {
    copy_out_string(|p, cap| unsafe { sys::process_info(pid.0, p, cap) })
}

/// Every process of the node (cap proc).
pub fn processes() -> Result<Vec<Pid>> {
    let mut buf = vec![0u64; 64];
    loop {
        let n = check(unsafe { sys::processes(buf.as_mut_ptr(), buf.len() as u32) })? as usize;
        if n <= buf.len() {
            buf.truncate(n);
            return Ok(buf.into_iter().map(Pid).collect());
        }
        buf.resize(n + 16, 0);
    }
}

/// Lets other processes run.
pub fn yield_now() {
    unsafe { sys::yield_() }
}

pub fn is_alive(pid: Pid) -> bool {
    unsafe { sys::is_alive(pid.0) > 0 }
}

/// Ends this process with an error (links and monitors see `detail`).
pub fn exit_error(detail: &str) -> ! {
    unsafe { sys::exit(2, detail.as_ptr(), detail.len() as u32) };
    unreachable!("rusm.exit returned")
}

/// Ends this process normally.
pub fn exit_normal() -> ! {
    unsafe { sys::exit(0, std::ptr::null(), 0) };
    unreachable!("rusm.exit returned")
}

/// Ends this process with reason shutdown (supervisors do not count it as a crash).
pub fn exit_shutdown(detail: &str) -> ! {
    unsafe { sys::exit(1, detail.as_ptr(), detail.len() as u32) };
    unreachable!("rusm.exit returned")
}

/// Sends an exit signal to `pid` with an error reason (`kill`: untrappable).
/// Cap proc. `ENOPROC`.
pub fn exit_pid(pid: Pid, detail: &str, kill: bool) -> Result<()> {
    let kind = if kill { 3 } else { 2 };
    check(unsafe { sys::exit_pid(pid.0, kind, detail.as_ptr(), detail.len() as u32) }).map(|_| ())
}

/// Kills `pid` (untrappable). Cap proc.
pub fn kill(pid: Pid) -> Result<()> {
    check_unit(unsafe { sys::exit_pid(pid.0, 3, std::ptr::null(), 0) })
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

/// Ok(false) if this process had no name.
pub fn unregister(name: &str) -> Result<bool> {
    match unsafe { sys::unregister(name.as_ptr(), name.len() as u32) } {
        sys::ENOTFOUND => Ok(false),
        r => check(r).map(|_| true),
    }
}

/// Suspends this process (not the worker thread) for `d`; messages that
/// arrive meanwhile stay queued.
pub fn sleep(d: Duration) {
    unsafe { sys::sleep(nanos(Some(d))) }
}

// ---- timers -----------------------------------------------------------------

/// A pending [`send_after`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Timer(pub u64);

impl Timer {
    /// Cancels the timer: the time that was left, or None if it already
    /// fired (its message may be in the mailbox) or was cancelled.
    pub fn cancel(self) -> Option<Duration> {
        let left = unsafe { sys::cancel_timer(self.0 as i64) };
        if left < 0 {
            None
        } else {
            Some(Duration::from_nanos(left as u64))
        }
    }
}

/// Sends `data` with `tag` to `to` after `delay`. The pending timer counts
/// against this process's message budget (`ELIMIT` past it) and is cancelled
/// when this process exits.
pub fn send_after(delay: Duration, to: Pid, tag: u64, data: &[u8]) -> Result<Timer> {
    let id = unsafe { sys::send_after(nanos(Some(delay)), to.0, tag, data.as_ptr(), len32(data)) };
    check64(id).map(Timer)
}

// ---- topics -----------------------------------------------------------------

/// v7: this process gets every message published on `topic` (1 to 255
/// bytes) on any node of the cluster, as a plain message (the publisher's
/// tag and data, from the publisher). Twice is once. Cap pubsub.
pub fn subscribe(topic: &str) -> Result<()> {
    check_unit(unsafe { sys::subscribe(topic.as_ptr(), topic.len() as u32) })
}

/// Ok(false) if this process was not subscribed.
pub fn unsubscribe(topic: &str) -> Result<bool> {
    match unsafe { sys::unsubscribe(topic.as_ptr(), topic.len() as u32) } {
        sys::ENOTFOUND => Ok(false),
        r => check(r).map(|_| true),
    }
}

/// A copy to every subscriber (this process too, if it is one): how many
/// copies went out (this node's subscribers, plus one per other node that
/// has subscribers). Cap pubsub.
pub fn publish(topic: &str, tag: u64, data: &[u8]) -> Result<usize> {
    check(unsafe { sys::publish(topic.as_ptr(), topic.len() as u32, tag, data.as_ptr(), len32(data)) })
        .map(|n| n as usize)
}

// ---- the cluster --------------------------------------------------------------

/// v4: this node's id (0 on a node that is not in a cluster).
pub fn node_self() -> u16 {
    unsafe { sys::node_self() as u16 }
}

/// The other nodes that are up.
pub fn nodes() -> Vec<u16> {
    let mut buf = vec![0u32; 16];
    loop {
        let n = unsafe { sys::nodes(buf.as_mut_ptr(), buf.len() as u32) }.max(0) as usize;
        if n <= buf.len() {
            return buf[..n].iter().map(|&id| id as u16).collect();
        }
        buf.resize(n + 8, 0);
    }
}

/// A node's name (this node's, or a peer's). `ENOTFOUND` if never seen.
pub fn node_name(node: u16) -> Result<String> {
    copy_out_string(|p, cap| unsafe { sys::node_name(node as u32, p, cap) })
}

/// `on`: a [`TAG_NODE_DOWN`] message each time `node` goes down (at once if it
/// is not up), [`TAG_NODE_UP`] each time it comes up. `false` stops them.
pub fn monitor_node(node: u16, on: bool) -> Result<()> {
    check_unit(unsafe { sys::monitor_node(node as u32, on as i32) })
}

/// To the process registered as `name` on `node` (Erlang's `{Name, Node} ! Msg`).
pub fn send_named(node: u16, name: &str, tag: u64, data: &[u8]) -> Result<()> {
    check_unit(unsafe {
        sys::send_named(node as u32, name.as_ptr(), name.len() as u32, tag, data.as_ptr(), len32(data))
    })
}

/// Registers this process as `name` on every node of the cluster. Cap registry.
pub fn register_global(name: &str) -> Result<()> {
    check_unit(unsafe { sys::register_global(name.as_ptr(), name.len() as u32) })
}

pub fn unregister_global(name: &str) -> Result<()> {
    check_unit(unsafe { sys::unregister_global(name.as_ptr(), name.len() as u32) })
}

pub fn whereis_global(name: &str) -> Option<Pid> {
    let p = unsafe { sys::whereis_global(name.as_ptr(), name.len() as u32) };
    if p > 0 {
        Some(Pid(p as u64))
    } else {
        None
    }
}

pub fn send_global(name: &str, tag: u64, data: &[u8]) -> Result<()> {
    check_unit(unsafe { sys::send_global(name.as_ptr(), name.len() as u32, tag, data.as_ptr(), len32(data)) })
}

// ---- supervisors ----------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    OneForOne = 0,
    OneForAll = 1,
    RestForOne = 2,
    /// One template child; children are added by [`Supervisor::start_child`].
    SimpleOneForOne = 3,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Restart {
    Permanent = 0,
    /// Restarted only after an abnormal exit.
    Transient = 1,
    Temporary = 2,
}

/// A supervisor's child: exported function `function` of this module (or of
/// the module registered as `module`) with `args`.
#[derive(Clone, Debug)]
pub struct ChildSpec {
    pub id: String,
    pub function: String,
    pub args: Vec<u64>,
    pub restart: Restart,
    /// How long a shutdown signal may take before the child is killed.
    pub shutdown: Duration,
    /// "" : this module.
    pub module: String,
    /// Capabilities (`caps::*`), never more than the caller's; None: inherit.
    pub caps: Option<u32>,
}

impl ChildSpec {
    /// A permanent child of this module with a shutdown time of 1 s.
    pub fn new(id: &str, function: &str, args: &[u64]) -> ChildSpec {
        ChildSpec {
            id: id.to_string(),
            function: function.to_string(),
            args: args.to_vec(),
            restart: Restart::Permanent,
            shutdown: Duration::from_secs(1),
            module: String::new(),
            caps: None,
        }
    }
    pub fn restart(mut self, r: Restart) -> ChildSpec {
        self.restart = r;
        self
    }
    pub fn shutdown(mut self, d: Duration) -> ChildSpec {
        self.shutdown = d;
        self
    }
    pub fn module(mut self, m: &str) -> ChildSpec {
        self.module = m.to_string();
        self
    }
    pub fn caps(mut self, c: u32) -> ChildSpec {
        self.caps = Some(c);
        self
    }
}

/// More than `max_restarts` restarts within `max_seconds` end the supervisor
/// (and, through the link, its starter unless it traps exits).
#[derive(Clone, Copy, Debug)]
pub struct SupervisorOptions {
    pub strategy: Strategy,
    pub max_restarts: u32,
    pub max_seconds: Duration,
}

impl Default for SupervisorOptions {
    fn default() -> SupervisorOptions {
        SupervisorOptions {
            strategy: Strategy::OneForOne,
            max_restarts: 3,
            max_seconds: Duration::from_secs(5),
        }
    }
}

/// A supervisor process (docs/abi.md, "Supervisor spec"). Its calls wait
/// (suspended) for its answer, at most `timeout` (None: until it answers, or
/// dies: `ENOPROC`). After `ETIMEOUT` the answer may still arrive as a
/// [`TAG_SUPERVISOR_REPLY`] message, to be skipped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Supervisor {
    pub pid: Pid,
}

impl Supervisor {
    /// Starts a supervisor linked to this process, and its children, each
    /// linked to it (cap spawn). `EBADARG` (a bad spec; simple_one_for_one
    /// without exactly one child), `ENOTFOUND` (no such function or module).
    pub fn start(o: SupervisorOptions, children: &[ChildSpec]) -> Result<Supervisor> {
        let header = sys::rusm_sup_header {
            strategy: o.strategy as u32,
            max_restarts: o.max_restarts,
            max_seconds_ms: o.max_seconds.as_millis().min(u32::MAX as u128) as u32,
            nchildren: children.len() as u32,
        };
        // The entries point into `children`, which outlives the call.
        let entries: Vec<sys::rusm_child_spec> = children
            .iter()
            .map(|c| sys::rusm_child_spec {
                id: c.id.as_ptr() as u32,
                id_len: c.id.len() as u32,
                module: c.module.as_ptr() as u32,
                module_len: c.module.len() as u32,
                fn_: c.function.as_ptr() as u32,
                fn_len: c.function.len() as u32,
                args: c.args.as_ptr() as u32,
                nargs: c.args.len() as u32,
                restart: c.restart as u32,
                shutdown_ms: c.shutdown.as_millis().min(u32::MAX as u128) as u32,
                flags: if c.caps.is_some() { 8 } else { 0 },
                caps: c.caps.unwrap_or(0),
            })
            .collect();
        let mut spec = Vec::with_capacity(16 + 48 * entries.len());
        spec.extend_from_slice(as_bytes(&header));
        for e in &entries {
            spec.extend_from_slice(as_bytes(e));
        }
        let pid = check64(unsafe { sys::supervisor_start(spec.as_ptr(), spec.len() as u32) })?;
        Ok(Supervisor { pid: Pid(pid) })
    }

    /// simple_one_for_one: starts a child from the template, with the
    /// template's arguments followed by `args` (kept for its restarts).
    pub fn start_child(&self, args: &[u64], timeout: Option<Duration>) -> Result<Pid> {
        let r = unsafe {
            sys::supervisor_start_child(self.pid.0 as i64, args.as_ptr(), args.len() as u32, nanos(timeout))
        };
        check64(r).map(Pid)
    }

    /// Stops a child (shutdown, then kill after its shutdown time); it is not
    /// restarted. `ENOTFOUND` if it is not a live child of this supervisor.
    pub fn terminate_child(&self, child: Pid, timeout: Option<Duration>) -> Result<()> {
        check_unit(unsafe {
            sys::supervisor_terminate_child(self.pid.0 as i64, child.0 as i64, nanos(timeout))
        })
    }

    /// The live children in start order (a restarted child counts from its restart).
    pub fn which_children(&self, timeout: Option<Duration>) -> Result<Vec<Pid>> {
        let mut buf = vec![0u64; 16];
        loop {
            let n = check(unsafe {
                sys::supervisor_which_children(
                    self.pid.0 as i64,
                    buf.as_mut_ptr(),
                    buf.len() as u32,
                    nanos(timeout),
                )
            })? as usize;
            if n <= buf.len() {
                buf.truncate(n);
                return Ok(buf.into_iter().map(Pid).collect());
            }
            buf.resize(n + 8, 0);
        }
    }
}

fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // The ABI's structs are repr(C) with no padding (abi/rusm.toml checks it).
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
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

impl Bucket {
    /// Deletes the key only if it holds `expected`; Ok(false) otherwise.
    pub fn delete_if(&self, key: &[u8], expected: &[u8]) -> Result<bool> {
        let r = unsafe {
            sys::kv_cas(
                self.0,
                key.as_ptr(),
                len32(key),
                expected.as_ptr(),
                len32(expected),
                std::ptr::null(),
                0,
                sys::KV_DELETE,
            )
        };
        if r == sys::ECONFLICT {
            return Ok(false);
        }
        check(r).map(|_| true)
    }

    /// One page of the keys that start with `prefix` and sort after `after`
    /// (bytewise; empty: from the first), at most 1000, with their values if
    /// `values`. An empty page is the end; page on with the last key as
    /// `after`.
    pub fn list(&self, prefix: &[u8], after: &[u8], values: bool) -> Result<Vec<KvEntry>> {
        let flags = if values { sys::KV_VALUES } else { 0 };
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            let r = unsafe {
                sys::kv_list(
                    self.0,
                    prefix.as_ptr(),
                    len32(prefix),
                    after.as_ptr(),
                    len32(after),
                    buf.as_mut_ptr(),
                    buf.len() as u32,
                    flags,
                )
            };
            // The first entry does not fit: a key and a value fit in 1 KiB + 16 MiB.
            if r == sys::ETOOLARGE && buf.len() < (17 << 20) {
                buf.resize(buf.len() * 4, 0);
                continue;
            }
            break check(r)? as usize;
        };
        let u32_at = |i: usize| u32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]) as usize;
        let mut out = Vec::with_capacity(n);
        let mut at = 0;
        for _ in 0..n {
            let (key_len, value_len) = (u32_at(at), u32_at(at + 4));
            at += 8;
            let key = buf[at..at + key_len].to_vec();
            at += key_len;
            let value = if values {
                at += value_len;
                Some(buf[at - value_len..at].to_vec())
            } else {
                None
            };
            out.push(KvEntry { key, value });
        }
        Ok(out)
    }

    /// Runs the steps atomically: every check first; if one fails nothing
    /// is written and the result is `Batch::Conflict(its index)`. At most
    /// 1024 steps and 16 MiB.
    pub fn batch(&self, ops: &[BatchOp]) -> Result<Batch> {
        let mut buf = Vec::new();
        for op in ops {
            let (kind, key, value): (u32, &[u8], &[u8]) = match *op {
                BatchOp::Put(k, v) => (1, k, v),
                BatchOp::Delete(k) => (2, k, &[]),
                BatchOp::Check(k, v) => (3, k, v),
                BatchOp::CheckAbsent(k) => (4, k, &[]),
            };
            let head = sys::rusm_kv_op { kind, key_len: len32(key), value_len: len32(value) };
            buf.extend_from_slice(as_bytes(&head));
            buf.extend_from_slice(key);
            buf.extend_from_slice(value);
        }
        let mut failed = 0i32;
        let r = unsafe { sys::kv_batch(self.0, buf.as_ptr(), buf.len() as u32, &mut failed) };
        if r == sys::ECONFLICT {
            return Ok(Batch::Conflict(failed.max(0) as usize));
        }
        check(r).map(|_| Batch::Applied)
    }
}

/// An entry of [`Bucket::list`]; `value` only when asked for.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KvEntry {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// A step of [`Bucket::batch`].
#[derive(Clone, Copy, Debug)]
pub enum BatchOp<'a> {
    /// Writes key, value.
    Put(&'a [u8], &'a [u8]),
    /// A missing key is fine.
    Delete(&'a [u8]),
    /// The key must hold the value.
    Check(&'a [u8], &'a [u8]),
    /// The key must be absent.
    CheckAbsent(&'a [u8]),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Batch {
    Applied,
    /// The index of the check that failed; nothing was written.
    Conflict(usize),
}

impl Drop for Bucket {
    fn drop(&mut self) {
        unsafe { sys::kv_close(self.0) };
    }
}

// ---- crypto -----------------------------------------------------------------

/// v6: digests, HMAC, HKDF, secure random, constant-time compare, and keys
/// held by the host (AEAD, signatures); docs/crypto.md. Every call needs cap
/// crypto (`EDENIED` without it).
pub mod crypto {
    use super::{check, check_unit, len32, sys, Result};

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Hash {
        Sha256 = 1,
        Sha384 = 2,
        Sha512 = 3,
        Blake2b512 = 4,
        Blake2s256 = 5,
    }

    impl Hash {
        /// The digest's length in bytes.
        pub fn len(self) -> usize {
            match self {
                Hash::Sha256 | Hash::Blake2s256 => 32,
                Hash::Sha384 => 48,
                Hash::Sha512 | Hash::Blake2b512 => 64,
            }
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum KeyKind {
        Aes128Gcm = 1,
        Aes256Gcm = 2,
        ChaCha20Poly1305 = 3,
        Ed25519 = 4,
        EcdsaP256 = 5,
    }

    /// Fills `buf` from the OS's CSPRNG.
    pub fn random(buf: &mut [u8]) -> Result<()> {
        check_unit(unsafe { sys::crypto_random(buf.as_mut_ptr(), buf.len() as u32) })
    }

    pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
        let mut v = vec![0u8; n];
        random(&mut v)?;
        Ok(v)
    }

    pub fn digest(alg: Hash, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; alg.len()];
        let n = check(unsafe {
            sys::crypto_digest(alg as i32, data.as_ptr(), len32(data), out.as_mut_ptr(), out.len() as u32)
        })?;
        out.truncate(n as usize);
        Ok(out)
    }

    pub fn sha256(data: &[u8]) -> Result<[u8; 32]> {
        let mut out = [0u8; 32];
        check(unsafe { sys::crypto_digest(1, data.as_ptr(), len32(data), out.as_mut_ptr(), 32) })?;
        Ok(out)
    }

    pub fn hmac(alg: Hash, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; alg.len()];
        let n = check(unsafe {
            sys::crypto_hmac(
                alg as i32,
                key.as_ptr(),
                len32(key),
                data.as_ptr(),
                len32(data),
                out.as_mut_ptr(),
                out.len() as u32,
            )
        })?;
        out.truncate(n as usize);
        Ok(out)
    }

    /// RFC 5869: `len` bytes (at most 255 times the hash's length).
    pub fn hkdf(alg: Hash, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; len];
        check(unsafe {
            sys::crypto_hkdf(
                alg as i32,
                ikm.as_ptr(),
                len32(ikm),
                salt.as_ptr(),
                len32(salt),
                info.as_ptr(),
                len32(info),
                out.as_mut_ptr(),
                out.len() as u32,
            )
        })?;
        Ok(out)
    }

    /// Equal contents, compared in time independent of where they differ
    /// (different lengths: false at once). Without cap crypto: false.
    pub fn equal(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && unsafe { sys::crypto_equal(a.as_ptr(), b.as_ptr(), len32(a)) } == 1
    }

    /// Whether `signature` is `public_key`'s over `data` (Ed25519: 32 raw
    /// bytes; P-256: the 65-byte uncompressed point). `EBADARG` for a public
    /// key that is not one.
    pub fn verify(kind: KeyKind, public_key: &[u8], data: &[u8], signature: &[u8]) -> Result<bool> {
        let r = unsafe {
            sys::crypto_verify(
                kind as i32,
                public_key.as_ptr(),
                len32(public_key),
                data.as_ptr(),
                len32(data),
                signature.as_ptr(),
                len32(signature),
            )
        };
        match r {
            sys::EAUTH => Ok(false),
            r => check(r).map(|_| true),
        }
    }

    /// Lowercase hex.
    pub fn hex(bytes: &[u8]) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            s.push(DIGITS[(b >> 4) as usize] as char);
            s.push(DIGITS[(b & 15) as usize] as char);
        }
        s
    }

    /// A key held by the host: its bytes leave only through [`Key::export`]
    /// of a key made exportable. Dropped (its bytes wiped) with the value, or
    /// at the process's exit.
    #[derive(Debug)]
    pub struct Key {
        handle: i32,
        kind: KeyKind,
    }

    impl Key {
        /// `ELIMIT` when the process holds 4096 keys.
        pub fn generate(kind: KeyKind, exportable: bool) -> Result<Key> {
            let h = check(unsafe { sys::crypto_key_generate(kind as i32, exportable as i32) })?;
            Ok(Key { handle: h, kind })
        }

        /// AEAD: the raw key (16 or 32 bytes); Ed25519: the 32-byte private
        /// key; P-256: PKCS#8 DER. `EBADARG` if it is not one.
        pub fn import(kind: KeyKind, bytes: &[u8], exportable: bool) -> Result<Key> {
            let h = check(unsafe {
                sys::crypto_key_import(kind as i32, exportable as i32, bytes.as_ptr(), len32(bytes))
            })?;
            Ok(Key { handle: h, kind })
        }

        pub fn kind(&self) -> KeyKind {
            self.kind
        }

        /// The form `import` takes; `EDENIED` unless made exportable.
        pub fn export(&self) -> Result<Vec<u8>> {
            let mut out = vec![0u8; 512];
            let n =
                check(unsafe { sys::crypto_key_export(self.handle, out.as_mut_ptr(), out.len() as u32) })?;
            out.truncate(n as usize);
            Ok(out)
        }

        /// Ed25519: 32 raw bytes; P-256: the uncompressed point (65 bytes).
        /// `EBADARG` for an AEAD key.
        pub fn public_key(&self) -> Result<Vec<u8>> {
            let mut out = vec![0u8; 65];
            let n =
                check(unsafe { sys::crypto_key_public(self.handle, out.as_mut_ptr(), out.len() as u32) })?;
            out.truncate(n as usize);
            Ok(out)
        }

        /// AEAD: ciphertext followed by the 16-byte tag. The nonce is 12
        /// bytes; never use one twice with a key.
        pub fn seal(&self, nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
            let mut out = vec![0u8; plaintext.len() + 16];
            let n = check(unsafe {
                sys::crypto_seal(
                    self.handle,
                    nonce.as_ptr(),
                    len32(nonce),
                    aad.as_ptr(),
                    len32(aad),
                    plaintext.as_ptr(),
                    len32(plaintext),
                    out.as_mut_ptr(),
                    out.len() as u32,
                )
            })?;
            out.truncate(n as usize);
            Ok(out)
        }

        /// The plaintext, or `Err(Error::AUTH)` if the ciphertext, tag or
        /// associated data were changed.
        pub fn open(&self, nonce: &[u8], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>> {
            let mut out = vec![0u8; ciphertext.len().max(1)];
            let n = check(unsafe {
                sys::crypto_open(
                    self.handle,
                    nonce.as_ptr(),
                    len32(nonce),
                    aad.as_ptr(),
                    len32(aad),
                    ciphertext.as_ptr(),
                    len32(ciphertext),
                    out.as_mut_ptr(),
                    out.len() as u32,
                )
            })?;
            out.truncate(n as usize);
            Ok(out)
        }

        /// 64 bytes: Ed25519, or ECDSA P-256 over SHA-256 as r ‖ s.
        pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>> {
            let mut out = vec![0u8; 64];
            let n = check(unsafe {
                sys::crypto_sign(self.handle, data.as_ptr(), len32(data), out.as_mut_ptr(), out.len() as u32)
            })?;
            out.truncate(n as usize);
            Ok(out)
        }
    }

    impl Drop for Key {
        fn drop(&mut self) {
            unsafe { sys::crypto_key_drop(self.handle) };
        }
    }
}

// ---- outbound HTTP ------------------------------------------------------------

/// v9: outbound HTTP(S) to the hosts this process was granted
/// (`--allow-net HOST:PORT`, cap net); docs/fetch.md.
///
/// ```ignore
/// let mut r = rusm::fetch::Request::post("https://api.example.com/v1/items")
///     .header("Content-Type", "application/json")
///     .body(br#"{"name":"ada"}"#.to_vec())
///     .timeout(Duration::from_secs(5))
///     .send()?;
/// let mut body = String::new();
/// r.read_to_string(&mut body)?; // std::io::Read
/// ```
pub mod fetch {
    use super::{check, sys, Error, Result};
    use std::time::Duration;

    /// A request, sent by [`Request::send`]. Redirects are not followed.
    #[derive(Clone, Debug)]
    pub struct Request {
        method: String,
        url: String,
        headers: String,
        body: Vec<u8>,
        timeout_ms: u32,
        max_response: u32,
    }

    impl Request {
        /// `method` "" is GET. The URL is `http://` or `https://`.
        pub fn new(method: &str, url: &str) -> Request {
            Request {
                method: method.to_string(),
                url: url.to_string(),
                headers: String::new(),
                body: Vec::new(),
                timeout_ms: 0,
                max_response: 0,
            }
        }
        pub fn get(url: &str) -> Request {
            Request::new("GET", url)
        }
        pub fn post(url: &str) -> Request {
            Request::new("POST", url)
        }
        /// Adds a header. `Host`, `Content-Length`, `Transfer-Encoding`,
        /// `Connection`, `Upgrade`, `TE`, `Trailer` and `Keep-Alive` are the
        /// host's: setting one makes `send` fail with `EBADARG`, as does CR or
        /// LF in a value.
        pub fn header(mut self, name: &str, value: &str) -> Request {
            self.headers.push_str(name);
            self.headers.push_str(": ");
            self.headers.push_str(value);
            self.headers.push_str("\r\n");
            self
        }
        /// The body, sent whole (the request is at most 16 MiB).
        pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
            self.body = body.into();
            self
        }
        /// The longest wait for the response's head, then between body
        /// bytes (`ETIMEOUT`); by default the node's (30 s).
        pub fn timeout(mut self, d: Duration) -> Request {
            self.timeout_ms = d.as_millis().clamp(1, u32::MAX as u128) as u32;
            self
        }
        /// The most body bytes accepted (`ETOOLARGE` past them); by default
        /// the node's cap (64 MiB).
        pub fn max_response(mut self, bytes: u32) -> Request {
            self.max_response = bytes;
            self
        }

        /// The request as `rusm_fetch_request` and its parts.
        fn encode(&self) -> Vec<u8> {
            let head = sys::rusm_fetch_request {
                method_len: self.method.len() as u32,
                url_len: self.url.len() as u32,
                headers_len: self.headers.len() as u32,
                body_len: self.body.len() as u32,
                timeout_ms: self.timeout_ms,
                max_response: self.max_response,
            };
            let mut out = Vec::with_capacity(
                24 + self.method.len() + self.url.len() + self.headers.len() + self.body.len(),
            );
            out.extend_from_slice(super::as_bytes(&head));
            out.extend_from_slice(self.method.as_bytes());
            out.extend_from_slice(self.url.as_bytes());
            out.extend_from_slice(self.headers.as_bytes());
            out.extend_from_slice(&self.body);
            out
        }

        /// Sends the request and waits (this process, not a thread) for the
        /// response's head. `EDENIED` (the host and port are not granted, or
        /// resolve to a local address the grant does not name), `EBADARG` (a
        /// bad URL, method or header), `ENOTCONN`, `ETIMEOUT`, `EAUTH` (the
        /// certificate), `EIO`, `ETOOLARGE`, `ELIMIT` (64 open in this
        /// process), `EFULL`.
        pub fn send(&self) -> Result<Response> {
            let req = self.encode();
            let handle = check(unsafe { sys::fetch(req.as_ptr(), req.len() as u32) })?;
            // From here on the handle is closed on every path (Response's Drop).
            let mut r =
                Response { handle, status: 0, headers: Vec::new(), content_length: None, done: false };
            let head = super::copy_out(|p, cap| unsafe { sys::fetch_head(handle, p, cap) })?;
            if head.len() < 16 {
                return Err(Error::IO);
            }
            let u32_at = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
            r.status = u32_at(0) as u16;
            let headers_len = u32_at(4) as usize;
            let mut cl = [0u8; 8];
            cl.copy_from_slice(&head[8..16]);
            let cl = u64::from_le_bytes(cl);
            r.content_length = if cl == u64::MAX { None } else { Some(cl) };
            let text = String::from_utf8_lossy(&head[16..(16 + headers_len).min(head.len())]).into_owned();
            for line in text.split("\r\n") {
                if let Some(colon) = line.find(':') {
                    r.headers.push((line[..colon].to_string(), line[colon + 1..].trim().to_string()));
                }
            }
            Ok(r)
        }
    }

    /// `Request::get(url).send()`.
    pub fn get(url: &str) -> Result<Response> {
        Request::get(url).send()
    }

    /// A response whose head has arrived; its body is read with
    /// [`Response::read_chunk`], [`Response::body`], [`Response::text`] or
    /// `std::io::Read`.
    /// Dropping it closes the exchange (and its connection).
    #[derive(Debug)]
    pub struct Response {
        handle: i32,
        status: u16,
        headers: Vec<(String, String)>,
        content_length: Option<u64>,
        done: bool,
    }

    impl Response {
        pub fn status(&self) -> u16 {
            self.status
        }
        /// Every header, in the order received.
        pub fn headers(&self) -> &[(String, String)] {
            &self.headers
        }
        /// The first header of that name (case-insensitive).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }
        /// None when not known (chunked, or until the connection closes).
        pub fn content_length(&self) -> Option<u64> {
            self.content_length
        }
        /// The next body bytes (waiting until some arrive), at most
        /// `buf.len()` (and 256 KiB); 0 at the end. `ETIMEOUT`, `ETOOLARGE`
        /// (past `max_response`), `EIO`; after an error, `EBADSTATE`.
        pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize> {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            let cap = buf.len().min(u32::MAX as usize) as u32;
            let n = check(unsafe { sys::fetch_read(self.handle, buf.as_mut_ptr(), cap) })? as usize;
            if n == 0 {
                self.done = true;
            }
            Ok(n)
        }
        /// The rest of the body.
        pub fn body(&mut self) -> Result<Vec<u8>> {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = self.read_chunk(&mut buf)?;
                if n == 0 {
                    return Ok(out);
                }
                out.extend_from_slice(&buf[..n]);
            }
        }
        /// The rest of the body as text (invalid UTF-8 replaced).
        pub fn text(&mut self) -> Result<String> {
            self.body().map(|b| String::from_utf8_lossy(&b).into_owned())
        }
    }

    impl std::io::Read for Response {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.read_chunk(buf).map_err(std::io::Error::from)
        }
    }

    impl Drop for Response {
        fn drop(&mut self) {
            unsafe { sys::fetch_close(self.handle) };
        }
    }
}

// ---- serving: HTTP and SSE handlers ---------------------------------------------

/// v3: the request of a process that `rusm serve` started for an `http` or
/// `sse` route (docs/abi.md, "Serving"). The route's entry takes the
/// request's handle:
///
/// ```ignore
/// #[no_mangle]
/// pub extern "C" fn handle(req: i32) {
///     let req = rusm::http::Request::from_handle(req);
///     let name = req.param("name").unwrap_or_else(|| "stranger".into());
///     req.respond(200, &[("Content-Type", "text/plain")], format!("hello {}\n", name).as_bytes()).ok();
/// }
/// ```
///
/// The response ends with the process: a started response is finished, one
/// that never started gets 500 (a panic is a trap: 500, or an aborted
/// connection if the head was sent). A `Request` reads the request's body
/// (`std::io::Read`) and writes a started response's (`std::io::Write`),
/// through `&Request` too, so `std::io::copy(&mut &req, &mut &req)` echoes.
pub mod http {
    use super::{check, check_unit, copy_out_string, len32, sys, Result};

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub struct Request {
        handle: i32,
    }

    fn header_block(headers: &[(&str, &str)]) -> String {
        let mut s = String::new();
        for (n, v) in headers {
            s.push_str(n);
            s.push_str(": ");
            s.push_str(v);
            s.push('\n');
        }
        s
    }

    impl Request {
        /// The handle the route's entry was given.
        pub fn from_handle(handle: i32) -> Request {
            Request { handle }
        }
        pub fn handle(&self) -> i32 {
            self.handle
        }

        /// GET, POST, ... as received.
        pub fn method(&self) -> String {
            copy_out_string(|p, c| unsafe { sys::http_method(self.handle, p, c) }).unwrap_or_default()
        }
        /// The target as received (`/users/7?x=1`).
        pub fn target(&self) -> String {
            copy_out_string(|p, c| unsafe { sys::http_target(self.handle, p, c) }).unwrap_or_default()
        }
        /// The target up to `?`, still percent-encoded.
        pub fn path(&self) -> String {
            copy_out_string(|p, c| unsafe { sys::http_path(self.handle, p, c) }).unwrap_or_default()
        }
        /// After `?` ("" if none).
        pub fn query(&self) -> String {
            copy_out_string(|p, c| unsafe { sys::http_query(self.handle, p, c) }).unwrap_or_default()
        }
        /// The value of `name` in the query (`a=1&b=2`), not percent-decoded.
        pub fn query_param(&self, name: &str) -> Option<String> {
            let q = self.query();
            q.split('&').find_map(|pair| {
                let mut kv = pair.splitn(2, '=');
                if kv.next() == Some(name) {
                    Some(kv.next().unwrap_or("").to_string())
                } else {
                    None
                }
            })
        }
        /// The client's address (`127.0.0.1:41234`).
        pub fn peer(&self) -> String {
            copy_out_string(|p, c| unsafe { sys::http_peer(self.handle, p, c) }).unwrap_or_default()
        }
        /// Every header, in the order received.
        pub fn headers(&self) -> Vec<(String, String)> {
            let text =
                copy_out_string(|p, c| unsafe { sys::http_headers(self.handle, p, c) }).unwrap_or_default();
            text.lines()
                .filter_map(|l| l.find(':').map(|i| (l[..i].to_string(), l[i + 1..].trim().to_string())))
                .collect()
        }
        /// The first header of that name (case-insensitive).
        pub fn header(&self, name: &str) -> Option<String> {
            copy_out_string(|p, c| unsafe {
                sys::http_header(self.handle, name.as_ptr(), name.len() as u32, p, c)
            })
            .ok()
        }
        /// A route parameter (`/users/{id}` -> "id"; "*" is a prefix route's
        /// rest of the path), percent-decoded.
        pub fn param(&self, name: &str) -> Option<String> {
            copy_out_string(|p, c| unsafe {
                sys::http_param(self.handle, name.as_ptr(), name.len() as u32, p, c)
            })
            .ok()
        }

        /// The next body bytes (waiting while they are on their way), 0 at
        /// the end. `ETOOLARGE` past the route's `body_bytes` (ending the
        /// handler then sends 413), `ECLOSED`.
        pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            check(unsafe { sys::http_read(self.handle, buf.as_mut_ptr(), len32(buf)) }).map(|n| n as usize)
        }
        /// The whole body (empty for a request without one).
        pub fn body(&self) -> Result<Vec<u8>> {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = self.read(&mut buf)?;
                if n == 0 {
                    return Ok(out);
                }
                out.extend_from_slice(&buf[..n]);
            }
        }

        /// The whole response at once, with a Content-Length. `EBADSTATE` if
        /// a response was already started; `EBADARG` for a bad header.
        pub fn respond(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<()> {
            let h = header_block(headers);
            check_unit(unsafe {
                sys::http_respond(
                    self.handle,
                    status as i32,
                    h.as_ptr(),
                    h.len() as u32,
                    body.as_ptr(),
                    len32(body),
                )
            })
        }
        /// Starts a streamed response: `Some(n)` sends a Content-Length of n,
        /// None a chunked body. Then `write` and `finish`.
        pub fn start(
            &self,
            status: u16,
            headers: &[(&str, &str)],
            content_length: Option<u64>,
        ) -> Result<()> {
            let h = header_block(headers);
            let len = content_length.map_or(-1, |n| n.min(i64::MAX as u64) as i64);
            check_unit(unsafe {
                sys::http_start(self.handle, status as i32, h.as_ptr(), h.len() as u32, len)
            })
        }
        /// Appends body bytes; waits (this process) while the client is slow.
        /// `EBADSTATE` before `start`, after `finish`, or past the length.
        pub fn write(&self, data: &[u8]) -> Result<()> {
            check_unit(unsafe { sys::http_write(self.handle, data.as_ptr(), len32(data)) })
        }
        /// Ends a streamed response (the process's end does it too).
        pub fn finish(&self) -> Result<()> {
            check_unit(unsafe { sys::http_finish(self.handle) })
        }
        /// Server-Sent Events: 200, `text/event-stream`, no caching, plus
        /// `headers`; then `send_event`.
        pub fn start_events(&self, headers: &[(&str, &str)]) -> Result<()> {
            let h = header_block(headers);
            check_unit(unsafe { sys::http_start_events(self.handle, h.as_ptr(), h.len() as u32) })
        }
        /// One event: `event: NAME` (none for ""), a `data:` line per line of
        /// `data`. Waits while the client is slow; `ECLOSED` when it left.
        pub fn send_event(&self, event: &str, data: &[u8]) -> Result<()> {
            check_unit(unsafe {
                sys::http_send_event(
                    self.handle,
                    event.as_ptr(),
                    event.len() as u32,
                    data.as_ptr(),
                    len32(data),
                )
            })
        }
    }

    impl std::io::Read for &Request {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            Request::read(self, buf).map_err(std::io::Error::from)
        }
    }
    impl std::io::Read for Request {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            Request::read(self, buf).map_err(std::io::Error::from)
        }
    }
    impl std::io::Write for &Request {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            Request::write(self, data).map(|_| data.len()).map_err(std::io::Error::from)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl std::io::Write for Request {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            Request::write(self, data).map(|_| data.len()).map_err(std::io::Error::from)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

// ---- serving: WebSocket handlers ---------------------------------------------------

/// v3: the connection of a process that `rusm serve` started for a `ws`
/// route (docs/abi.md, "WebSocket handlers"). Frames are mailbox messages:
/// each whole message tagged [`TAG_WS_TEXT`] or [`TAG_WS_BINARY`], then one
/// [`TAG_WS_CLOSE`] when the connection ends, so one receive loop serves the
/// client and other processes alike:
///
/// ```ignore
/// #[no_mangle]
/// pub extern "C" fn handle(ws: i32) {
///     let ws = rusm::ws::WebSocket::from_handle(ws);
///     loop {
///         let m = rusm::receive();
///         match m.ws_frame() {
///             Some(Frame::Text(t)) => { ws.send_text(&t).ok(); }
///             Some(Frame::Close { .. }) => return,
///             _ => {} // another process's message
///         }
///     }
/// }
/// ```
///
/// The connection closes when the process ends (1000; 1011 after a crash);
/// after the client closed, the process has 5 s to finish.
pub mod ws {
    use super::{
        check_unit, copy_out_string, len32, receive, sys, Message, Result, TAG_WS_BINARY, TAG_WS_CLOSE,
        TAG_WS_TEXT,
    };

    /// One message from the client, or the connection's end.
    #[derive(Clone, PartialEq, Eq, Debug)]
    pub enum Frame {
        Text(String),
        Binary(Vec<u8>),
        /// The peer's code (1000, ...), the server's (1001 shutdown, 1002,
        /// 1007, 1009), this process's own `close` code echoed, or 1006 when
        /// the connection dropped. Nothing follows it.
        Close {
            code: u16,
            reason: String,
        },
    }

    impl Frame {
        /// The frame a message carries; None for another process's message.
        pub fn from_message(m: &Message) -> Option<Frame> {
            match m.tag {
                TAG_WS_TEXT => Some(Frame::Text(String::from_utf8_lossy(&m.data).into_owned())),
                TAG_WS_BINARY => Some(Frame::Binary(m.data.clone())),
                TAG_WS_CLOSE => {
                    let code =
                        if m.data.len() >= 2 { u16::from_le_bytes([m.data[0], m.data[1]]) } else { 1005 };
                    let reason = String::from_utf8_lossy(m.data.get(2..).unwrap_or(&[])).into_owned();
                    Some(Frame::Close { code, reason })
                }
                _ => None,
            }
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub struct WebSocket {
        handle: i32,
    }

    impl WebSocket {
        /// The handle the route's entry was given.
        pub fn from_handle(handle: i32) -> WebSocket {
            WebSocket { handle }
        }
        pub fn handle(&self) -> i32 {
            self.handle
        }

        /// The next frame, waiting as long as it takes. Messages from other
        /// processes that arrive meanwhile are dropped: a process that also
        /// talks to others uses `rusm::receive` and `Message::ws_frame`.
        pub fn recv(&self) -> Frame {
            loop {
                if let Some(f) = Frame::from_message(&receive()) {
                    return f;
                }
            }
        }

        /// Sends a text message. Returns at once while few sends are queued,
        /// else waits (this process) until the connection takes it. `ECLOSED`
        /// (closing or gone), `EFULL`.
        pub fn send_text(&self, text: &str) -> Result<()> {
            check_unit(unsafe { sys::ws_send(self.handle, 1, text.as_ptr(), text.len() as u32) })
        }
        pub fn send_binary(&self, data: &[u8]) -> Result<()> {
            check_unit(unsafe { sys::ws_send(self.handle, 0, data.as_ptr(), len32(data)) })
        }
        /// A ping (payload at most 125 bytes); the client's pong is not reported.
        pub fn ping(&self, data: &[u8]) -> Result<()> {
            check_unit(unsafe { sys::ws_ping(self.handle, data.as_ptr(), len32(data)) })
        }
        /// Starts the close handshake after what is queued (code 1000-1014
        /// except 1004-1006, or 3000-4999; reason at most 123 bytes); a
        /// `Frame::Close` follows. `ECLOSED` if already closing.
        pub fn close(&self, code: u16, reason: &str) -> Result<()> {
            check_unit(unsafe {
                sys::ws_close(self.handle, code as i32, reason.as_ptr(), reason.len() as u32)
            })
        }

        /// The upgrade request's path, still percent-encoded.
        pub fn path(&self) -> String {
            copy_out_string(|p, c| unsafe { sys::ws_path(self.handle, p, c) }).unwrap_or_default()
        }
        /// Its query string without `?` ("" if none).
        pub fn query(&self) -> String {
            copy_out_string(|p, c| unsafe { sys::ws_query(self.handle, p, c) }).unwrap_or_default()
        }
        /// The value of `name` in the query, not percent-decoded.
        pub fn query_param(&self, name: &str) -> Option<String> {
            self.query().split('&').find_map(|pair| {
                let mut kv = pair.splitn(2, '=');
                if kv.next() == Some(name) {
                    Some(kv.next().unwrap_or("").to_string())
                } else {
                    None
                }
            })
        }
        /// The first header of that name in the upgrade request (case-insensitive).
        pub fn header(&self, name: &str) -> Option<String> {
            copy_out_string(|p, c| unsafe {
                sys::ws_header(self.handle, name.as_ptr(), name.len() as u32, p, c)
            })
            .ok()
        }
        /// A route parameter (`/room/{id}`), percent-decoded.
        pub fn param(&self, name: &str) -> Option<String> {
            copy_out_string(|p, c| unsafe {
                sys::ws_param(self.handle, name.as_ptr(), name.len() as u32, p, c)
            })
            .ok()
        }
    }
}

impl Message {
    /// The WebSocket frame this message carries (a ws route's process).
    pub fn ws_frame(&self) -> Option<ws::Frame> {
        ws::Frame::from_message(self)
    }
}

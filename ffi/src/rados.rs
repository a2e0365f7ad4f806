//! librados: a connected cluster handle and the monitor/manager command calls cephboot needs.
//!
//! Output buffers that librados allocates are copied into owned Rust values before
//! `rados_buffer_free` is called on them (reading them after the free is the bug of the
//! `ceph` crate on crates.io). Every error carries the negative errno and the status text
//! Ceph returned, so the caller can say what went wrong.

use std::ffi::{c_char, c_int, CString};
use std::fmt;
use std::ptr;

type RawCluster = *mut std::ffi::c_void;

type CreateFn = unsafe extern "C" fn(*mut RawCluster, *const c_char, *const c_char, u64) -> c_int;
type ConfReadFn = unsafe extern "C" fn(RawCluster, *const c_char) -> c_int;
type ConfSetFn = unsafe extern "C" fn(RawCluster, *const c_char, *const c_char) -> c_int;
type ConnectFn = unsafe extern "C" fn(RawCluster) -> c_int;
type ShutdownFn = unsafe extern "C" fn(RawCluster);
type BufferFreeFn = unsafe extern "C" fn(*mut c_char);
type CommandFn = unsafe extern "C" fn(
    RawCluster,
    *mut *const c_char,
    usize,
    *const c_char,
    usize,
    *mut *mut c_char,
    *mut usize,
    *mut *mut c_char,
    *mut usize,
) -> c_int;
type OsdCommandFn = unsafe extern "C" fn(
    RawCluster,
    c_int,
    *mut *const c_char,
    usize,
    *const c_char,
    usize,
    *mut *mut c_char,
    *mut usize,
    *mut *mut c_char,
    *mut usize,
) -> c_int;

/// librados, loaded on first use (`dlopen`): commands that never talk to Ceph (`disks list`,
/// the daemon) do not map librados and its ~10 MB of dependencies at all.
struct Api {
    create2: CreateFn,
    conf_read_file: ConfReadFn,
    conf_set: ConfSetFn,
    connect: ConnectFn,
    shutdown: ShutdownFn,
    buffer_free: BufferFreeFn,
    mon_command: CommandFn,
    mgr_command: CommandFn,
    osd_command: OsdCommandFn,
}

static API: std::sync::OnceLock<Result<Api, String>> = std::sync::OnceLock::new();

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl call;
    // it is copied at once.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-null, NUL-terminated (above).
        unsafe { std::ffi::CStr::from_ptr(e) }
            .to_string_lossy()
            .into_owned()
    }
}

fn load() -> Result<Api, String> {
    // SAFETY: dlopen with a constant NUL-terminated name; the handle is kept for the life of
    // the process (never closed), so the function pointers below stay valid.
    let handle =
        unsafe { libc::dlopen(c"librados.so.2".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(format!(
            "cannot load librados.so.2 ({}): install the librados2 package",
            dl_error()
        ));
    }
    macro_rules! sym {
        ($name:literal, $ty:ty) => {{
            // SAFETY: the handle is live; the name is a NUL-terminated constant.
            let p = unsafe { libc::dlsym(handle, $name.as_ptr()) };
            if p.is_null() {
                return Err(format!("librados.so.2 lacks {:?}: {}", $name, dl_error()));
            }
            // SAFETY: the symbol is librados' function of this exact C signature (librados.h).
            unsafe { std::mem::transmute::<*mut std::ffi::c_void, $ty>(p) }
        }};
    }
    Ok(Api {
        create2: sym!(c"rados_create2", CreateFn),
        conf_read_file: sym!(c"rados_conf_read_file", ConfReadFn),
        conf_set: sym!(c"rados_conf_set", ConfSetFn),
        connect: sym!(c"rados_connect", ConnectFn),
        shutdown: sym!(c"rados_shutdown", ShutdownFn),
        buffer_free: sym!(c"rados_buffer_free", BufferFreeFn),
        mon_command: sym!(c"rados_mon_command", CommandFn),
        mgr_command: sym!(c"rados_mgr_command", CommandFn),
        osd_command: sym!(c"rados_osd_command", OsdCommandFn),
    })
}

fn api(call: &'static str) -> Result<&'static Api, RadosError> {
    API.get_or_init(load).as_ref().map_err(|e| RadosError {
        call,
        errno: libc::ENOENT,
        status: e.clone(),
    })
}

/// A librados failure: which call, the errno, and Ceph's own status text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadosError {
    /// The librados call that failed (`rados_connect`, `rados_mon_command`, ...).
    pub call: &'static str,
    /// Positive errno (`ETIMEDOUT` = 110, `ENOENT` = 2, `EPERM` = 1, ...).
    pub errno: i32,
    /// The status string Ceph returned with the error, if any.
    pub status: String,
}

impl fmt::Display for RadosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let os = std::io::Error::from_raw_os_error(self.errno);
        write!(f, "{} failed: {}", self.call, os)?;
        if !self.status.is_empty() {
            write!(f, ": {}", self.status.trim())?;
        }
        Ok(())
    }
}

impl std::error::Error for RadosError {}

fn err(call: &'static str, rc: c_int, status: String) -> RadosError {
    RadosError {
        call,
        errno: rc.saturating_neg(),
        status,
    }
}

fn cstring(call: &'static str, s: &str) -> Result<CString, RadosError> {
    CString::new(s).map_err(|_| RadosError {
        call,
        errno: libc::EINVAL,
        status: "argument contains a NUL byte".into(),
    })
}

/// The reply to a monitor or manager command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandReply {
    /// The output buffer (usually JSON when the command asked for `"format": "json"`).
    pub output: Vec<u8>,
    /// The status string (human text such as "pool 'x' created").
    pub status: String,
}

/// A librados cluster handle, configured but not yet connected.
#[derive(Debug)]
pub struct Cluster {
    raw: RawCluster,
    connected: bool,
    api: &'static Api,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("librados")
    }
}

// SAFETY: librados cluster handles are thread-safe (documented in librados.h: "the rados_t
// handle ... may be used from multiple threads").
unsafe impl Send for Cluster {}
// SAFETY: as above.
unsafe impl Sync for Cluster {}

impl Cluster {
    /// `rados_create2(cluster_name, entity_name)`, e.g. ("ceph", "client.admin").
    pub fn create(cluster_name: &str, entity_name: &str) -> Result<Self, RadosError> {
        let cluster = cstring("rados_create2", cluster_name)?;
        let name = cstring("rados_create2", entity_name)?;
        let api = api("rados_create2")?;
        let mut raw: RawCluster = ptr::null_mut();
        // SAFETY: out-pointer is a valid local; strings are NUL-terminated and outlive the call.
        let rc = unsafe { (api.create2)(&mut raw, cluster.as_ptr(), name.as_ptr(), 0) };
        if rc < 0 || raw.is_null() {
            return Err(err("rados_create2", rc.min(-libc::ENOMEM), String::new()));
        }
        Ok(Cluster {
            raw,
            connected: false,
            api,
        })
    }

    /// Reads a ceph.conf file into the handle's configuration.
    pub fn read_conf_file(&mut self, path: &str) -> Result<(), RadosError> {
        let p = cstring("rados_conf_read_file", path)?;
        // SAFETY: raw is a live handle; p is NUL-terminated.
        let rc = unsafe { (self.api.conf_read_file)(self.raw, p.as_ptr()) };
        if rc < 0 {
            return Err(err("rados_conf_read_file", rc, format!("reading {path}")));
        }
        Ok(())
    }

    /// Sets one configuration option (before `connect`).
    pub fn conf_set(&mut self, option: &str, value: &str) -> Result<(), RadosError> {
        let o = cstring("rados_conf_set", option)?;
        let v = cstring("rados_conf_set", value)?;
        // SAFETY: raw is a live handle; strings are NUL-terminated.
        let rc = unsafe { (self.api.conf_set)(self.raw, o.as_ptr(), v.as_ptr()) };
        if rc < 0 {
            return Err(err("rados_conf_set", rc, format!("option {option}")));
        }
        Ok(())
    }

    /// Connects to the monitors (bounded by `client_mount_timeout`).
    pub fn connect(&mut self) -> Result<(), RadosError> {
        // SAFETY: raw is a live, configured handle.
        let rc = unsafe { (self.api.connect)(self.raw) };
        if rc < 0 {
            return Err(err("rados_connect", rc, String::new()));
        }
        self.connected = true;
        Ok(())
    }

    /// Sends a JSON command to the monitors (`ceph ...`), with an optional input buffer.
    pub fn mon_command(&self, cmd: &str, input: &[u8]) -> Result<CommandReply, RadosError> {
        self.command("rados_mon_command", cmd, input, Target::Mon)
    }

    /// Sends a JSON command to the active manager.
    pub fn mgr_command(&self, cmd: &str, input: &[u8]) -> Result<CommandReply, RadosError> {
        self.command("rados_mgr_command", cmd, input, Target::Mgr)
    }

    /// Sends a JSON command to one OSD (`ceph tell osd.ID ...`).
    pub fn osd_command(
        &self,
        id: u32,
        cmd: &str,
        input: &[u8],
    ) -> Result<CommandReply, RadosError> {
        let id = c_int::try_from(id).map_err(|_| RadosError {
            call: "rados_osd_command",
            errno: libc::EINVAL,
            status: format!("osd id {id} out of range"),
        })?;
        self.command("rados_osd_command", cmd, input, Target::Osd(id))
    }

    fn command(
        &self,
        call: &'static str,
        cmd: &str,
        input: &[u8],
        target: Target,
    ) -> Result<CommandReply, RadosError> {
        if !self.connected {
            return Err(RadosError {
                call,
                errno: libc::ENOTCONN,
                status: "not connected".into(),
            });
        }
        let c = cstring(call, cmd)?;
        let mut cmds = [c.as_ptr()];
        let mut outbuf: *mut c_char = ptr::null_mut();
        let mut outbuflen: usize = 0;
        let mut outs: *mut c_char = ptr::null_mut();
        let mut outslen: usize = 0;
        let rc = match target {
            Target::Mon | Target::Mgr => {
                let f = if target == Target::Mgr {
                    self.api.mgr_command
                } else {
                    self.api.mon_command
                };
                // SAFETY: raw is a connected handle; cmds holds one NUL-terminated string alive
                // for the call; input is a valid slice; out-pointers are valid locals.
                unsafe {
                    f(
                        self.raw,
                        cmds.as_mut_ptr(),
                        1,
                        input.as_ptr().cast(),
                        input.len(),
                        &mut outbuf,
                        &mut outbuflen,
                        &mut outs,
                        &mut outslen,
                    )
                }
            }
            // SAFETY: as above; `id` is a plain integer librados looks up in its osdmap.
            Target::Osd(id) => unsafe {
                (self.api.osd_command)(
                    self.raw,
                    id,
                    cmds.as_mut_ptr(),
                    1,
                    input.as_ptr().cast(),
                    input.len(),
                    &mut outbuf,
                    &mut outbuflen,
                    &mut outs,
                    &mut outslen,
                )
            },
        };
        // Copy both buffers into owned values first, then free them.
        let output = take_buffer(self.api, outbuf, outbuflen);
        let status = String::from_utf8_lossy(&take_buffer(self.api, outs, outslen)).into_owned();
        if rc < 0 {
            return Err(err(call, rc, status));
        }
        Ok(CommandReply { output, status })
    }
}

/// Who a command goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Mon,
    Mgr,
    Osd(c_int),
}

fn take_buffer(api: &Api, buf: *mut c_char, len: usize) -> Vec<u8> {
    if buf.is_null() {
        return Vec::new();
    }
    let copy = if len == 0 {
        Vec::new()
    } else {
        // SAFETY: librados allocated `len` bytes at `buf` for this reply.
        unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }.to_vec()
    };
    // SAFETY: buf was allocated by librados for this reply and is freed exactly once, after
    // its contents were copied.
    unsafe { (api.buffer_free)(buf) };
    copy
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SAFETY: raw was created by rados_create2 and is shut down exactly once. shutdown is
        // valid on a handle that never connected.
        unsafe { (self.api.shutdown)(self.raw) }
    }
}

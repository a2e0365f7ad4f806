//! The kernel's uevent netlink socket (`NETLINK_KOBJECT_UEVENT`, kernel multicast group 1):
//! device add/change/remove announcements, with or without udevd running.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A bound uevent socket.
#[derive(Debug)]
pub struct UeventSocket {
    fd: OwnedFd,
}

impl UeventSocket {
    /// Opens and binds the socket to the kernel's uevent group.
    pub fn open() -> io::Result<Self> {
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_KOBJECT_UEVENT,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain old data; all-zero is a valid starting value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::sa_family_t::try_from(libc::AF_NETLINK).unwrap_or(16);
        addr.nl_groups = 1;
        let len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_nl>()).unwrap_or(12);
        // A larger receive buffer so a burst of events (many partitions) is not dropped.
        let size: libc::c_int = 4 << 20;
        let size_len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4);
        // SAFETY: valid fd, pointer to a live c_int of the given length. Failure is harmless.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                std::ptr::addr_of!(size).cast(),
                size_len,
            );
        }
        // SAFETY: valid fd; addr is a live sockaddr_nl of `len` bytes.
        if unsafe { libc::bind(fd.as_raw_fd(), std::ptr::addr_of!(addr).cast(), len) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(UeventSocket { fd })
    }

    /// Bounds how long `recv` blocks: after `timeout` it fails with `ErrorKind::WouldBlock`.
    pub fn set_timeout(&self, timeout: std::time::Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_usec: libc::suseconds_t::from(timeout.subsec_micros()),
        };
        let len = libc::socklen_t::try_from(std::mem::size_of::<libc::timeval>()).unwrap_or(16);
        // SAFETY: valid fd; pointer to a live timeval of `len` bytes.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                std::ptr::addr_of!(tv).cast(),
                len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Blocks for the next message and copies it into `buf`; returns its length.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is a valid writable region of buf.len() bytes for the duration of the call.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

//! This host: its short name (the CRUSH host bucket an OSD prepared here goes under).

/// The kernel's hostname up to the first dot; `localhost` when it cannot be read.
pub fn short_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| {
            h.trim()
                .split('.')
                .next()
                .unwrap_or("localhost")
                .to_string()
        })
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

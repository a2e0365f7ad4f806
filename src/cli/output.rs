//! Rendering helpers shared by commands: JSON to stdout, human sizes, simple tables.
//!
//! Everything a command prints on stdout goes through [`write_stdout`] (the `outln!` and
//! `out!` macros): a reader that went away (`cephboot disks list | head -1`, EPIPE) is not an
//! error and not a panic. The command finishes what it was doing (a half-done `osd prepare`
//! because nobody reads its report would be worse) with its documented exit status, and
//! writes nothing more.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use super::Format;

/// Writes `value` as JSON in the chosen style (table callers render themselves).
pub fn print_json<T: Serialize>(format: Format, value: &T) {
    let text = match format {
        Format::JsonPretty => serde_json::to_string_pretty(value),
        _ => serde_json::to_string(value),
    };
    match text {
        Ok(t) => crate::outln!("{t}"),
        Err(e) => crate::errln!("cephboot: cannot render JSON: {e}"),
    }
}

/// Set once stdout cannot be written any more.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes to stdout. When the reader has gone (EPIPE) the rest is dropped quietly; another
/// failure (a full disk behind a redirection) is said once on stderr.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            crate::errln!("cephboot: cannot write the output: {e}");
        }
    }
}

/// Whether stdout stopped taking output (its reader went away).
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(Ordering::Relaxed)
}

/// `println!` that ends quietly when stdout's reader has gone ([`write_stdout`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::cli::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to stderr, ignoring a failure: a reader of stderr that went away (`2>&1 | head`)
/// or a full disk behind it must not turn a message into a panic (`eprintln!` panics then).
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// `eprintln!` that never panics ([`write_stderr`]).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that ends quietly when stdout's reader has gone ([`write_stdout`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!($($arg)*))
    };
}

/// `4.0G`, `512M`, `0B`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut v = bytes;
    let mut unit = 0;
    let mut rem = 0;
    while v >= 1024 && unit + 1 < UNITS.len() {
        rem = v % 1024;
        v /= 1024;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("?");
    if unit == 0 || v >= 100 {
        format!("{v}{name}")
    } else {
        format!("{v}.{}{name}", rem * 10 / 1024)
    }
}

/// Renders rows as left-aligned columns; the last column is not padded.
/// `text` with control characters shown as `\xNN` (`\u{NNNN}` beyond one byte).
pub fn escape_controls(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let code = u32::from(c);
            if code <= 0xff {
                let _ = write!(out, "\\x{code:02x}");
            } else {
                let _ = write!(out, "\\u{{{code:04x}}}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    // Names and labels read from disks may hold control characters (an escape sequence in a
    // GPT name would drive the terminal): every cell shows them as `\xNN`.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape_controls(c)).collect())
        .collect();
    let rows = rows.as_slice();
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.width());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                s.push_str(c);
                s.push_str(&" ".repeat(w.saturating_sub(c.width()) + 2));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_lsblk() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(4 << 30), "4.0G");
        assert_eq!(human_size(1536 << 20), "1.5G");
        assert_eq!(human_size(300 << 20), "300M");
    }

    #[test]
    fn table_aligns_wide_characters_by_display_width() {
        let t = table(
            &["A", "B"],
            &[
                vec!["新加卷".into(), "x".into()],
                vec!["ab".into(), "y".into()],
            ],
        );
        assert_eq!(t, "A       B\n新加卷  x\nab      y\n");
    }

    #[test]
    fn control_characters_in_cells_are_escaped() {
        let t = table(&["NAME"], &[vec!["a\u{1b}[31mb\u{7}\u{85}新".into()]]);
        assert_eq!(t, "NAME\na\\x1b[31mb\\x07\\x85新\n");
        assert!(!t.contains('\u{1b}'));
    }
}

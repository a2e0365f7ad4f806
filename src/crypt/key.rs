//! The dm-crypt key of an encrypted OSD, in ceph-volume's format: 128 random bytes (Ceph's
//! `osd_dmcrypt_key_size` default of 1024 bits) encoded as base64 text, and that text itself
//! (not the decoded bytes) is the LUKS passphrase, fed to cryptsetup on stdin. The text never
//! reaches a command line, a log line, an error or JSON: the type does not print it.

use std::io::Read;

use crate::error::{Error, Result};

/// A dm-crypt key (the base64 text). Debug shows nothing of it; dropped, its bytes are
/// overwritten.
pub struct DmcryptKey(Vec<u8>);

impl DmcryptKey {
    /// A new key: 128 bytes from the kernel's random source, base64-encoded.
    pub fn generate() -> Result<Self> {
        let mut raw = [0u8; 128];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut raw))
            .map_err(|e| Error::io("reading /dev/urandom for a dm-crypt key", e))?;
        let key = DmcryptKey(base64(&raw).into_bytes());
        raw.fill(0);
        Ok(key)
    }

    /// The key as the monitors' config-key store returns it (surrounding whitespace dropped,
    /// as ceph-volume strips it); `None` when empty.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        let text = bytes.trim_ascii();
        (!text.is_empty()).then(|| DmcryptKey(text.to_vec()))
    }

    /// The passphrase bytes, for cryptsetup's stdin and the `osd new` secrets.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The passphrase as text (it is base64: ASCII).
    pub fn expose_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Debug for DmcryptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DmcryptKey(<redacted>)")
    }
}

impl Drop for DmcryptKey {
    fn drop(&mut self) {
        self.0.fill(0);
    }
}

/// Standard base64 with padding (RFC 4648), as Python's `base64.b64encode`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |i: u32| char::from(ALPHABET.get((i & 63) as usize).copied().unwrap_or(b'A'));
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn a_key_is_172_characters_of_base64_and_never_printed() {
        let k = DmcryptKey::generate().unwrap();
        assert_eq!(k.expose().len(), 172, "128 bytes in base64");
        assert!(
            k.expose_str().ends_with('=') && !k.expose_str().ends_with("=="),
            "128 = 3 x 42 + 2 bytes: one pad"
        );
        assert!(k
            .expose()
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+/=".contains(c)));
        assert_eq!(format!("{k:?}"), "DmcryptKey(<redacted>)");
        let other = DmcryptKey::generate().unwrap();
        assert_ne!(k.expose(), other.expose());
    }

    #[test]
    fn a_stored_key_loses_its_newline_and_an_empty_one_is_none() {
        let k = DmcryptKey::from_stored(b"abc=\n").unwrap();
        assert_eq!(k.expose(), b"abc=");
        assert!(DmcryptKey::from_stored(b" \n").is_none());
    }
}

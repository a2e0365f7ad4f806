//! Sizes as a spec writes them (pure): `10G`, `4TB`, `1.6TB`, `500GiB`, `1048576`.
//!
//! Decimal units mean powers of 1000 (`K`/`KB`, `M`/`MB`, `G`/`GB`, `T`/`TB`, as cephadm's
//! size filter reads them), binary ones powers of 1024 (`KiB`, `MiB`, `GiB`, `TiB`); a bare
//! number is bytes. cephadm compares a disk's 1024-based figure from ceph-volume with those
//! 1000-based bounds, so its `size: '4TB:'` misses a 4 TB disk (3.64 "TB"); here a disk's
//! exact byte count is compared, so `4TB:` takes every disk sold as 4 TB (docs/spec.md).

/// A size filter: `LOW:HIGH`, `LOW:`, `:HIGH` (bounds included), or an exact value, which
/// matches a disk whose size rounds to it at the precision written (`4TB`: 3.5 TB up to but
/// not including 4.5 TB; `1.6TB`: 1.55 TB up to 1.65 TB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeFilter {
    /// Smallest size taken, bytes.
    pub min: Option<u64>,
    /// Largest size taken, bytes.
    pub max: Option<u64>,
    /// As written.
    pub text: String,
}

impl SizeFilter {
    /// Parses a filter.
    pub fn parse(text: &str) -> Result<SizeFilter, String> {
        let t = text.trim();
        let out = if let Some((lo, hi)) = t.split_once(':') {
            let (lo, hi) = (lo.trim(), hi.trim());
            if lo.is_empty() && hi.is_empty() {
                return Err(
                    "give a bound on at least one side of `:` (`4TB:`, `:2TB`, `1TB:4TB`)".into(),
                );
            }
            let min = (!lo.is_empty()).then(|| parse_bytes(lo)).transpose()?;
            let max = (!hi.is_empty()).then(|| parse_bytes(hi)).transpose()?;
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    return Err(format!(
                        "the lower bound {lo} is above the upper bound {hi}"
                    ));
                }
            }
            SizeFilter {
                min,
                max,
                text: t.to_string(),
            }
        } else {
            let (value, step) = parse_with_step(t)?;
            let half = step / 2;
            SizeFilter {
                min: Some(value.saturating_sub(half)),
                max: Some(value.saturating_add(step - half).saturating_sub(1)),
                text: t.to_string(),
            }
        };
        Ok(out)
    }

    /// Whether a disk of `bytes` is within.
    pub fn matches(&self, bytes: u64) -> bool {
        self.min.is_none_or(|m| bytes >= m) && self.max.is_none_or(|m| bytes <= m)
    }
}

/// Parses one size into bytes.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    parse_with_step(text).map(|(v, _)| v)
}

/// A size in bytes and the size of one unit of its last written digit (for exact matches).
fn parse_with_step(text: &str) -> Result<(u64, u64), String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (
        t.get(..split).unwrap_or(""),
        t.get(split..).unwrap_or("").trim(),
    );
    let unit_bytes: u128 = match unit {
        "" | "B" => 1,
        "K" | "KB" => 1_000,
        "M" | "MB" => 1_000_000,
        "G" | "GB" => 1_000_000_000,
        "T" | "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "unit `{other}` is not one of K, M, G, T, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"
            ))
        }
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(format!(
            "`{t}` is not a size (a number and a unit: 10G, 1.6TB, 500GiB)"
        ));
    }
    let digits = format!("{int}{frac}");
    let mantissa: u128 = digits
        .parse()
        .map_err(|_| format!("`{t}` is not a size (a number and a unit: 10G, 1.6TB, 500GiB)"))?;
    let scale = 10u128
        .checked_pow(u32::try_from(frac.len()).unwrap_or(u32::MAX))
        .ok_or_else(|| format!("`{t}` has too many decimals"))?;
    let bytes = mantissa
        .checked_mul(unit_bytes)
        .map(|b| b / scale)
        .and_then(|b| u64::try_from(b).ok())
        .filter(|b| *b > 0)
        .ok_or_else(|| format!("`{t}` is out of range"))?;
    let step = u64::try_from((unit_bytes / scale).max(1)).unwrap_or(u64::MAX);
    Ok((bytes, step))
}

/// A size for a reason line: `4.0 TB (4000787030016 bytes)`.
pub fn show(bytes: u64) -> String {
    let (v, u) = if bytes >= 1_000_000_000_000 {
        (bytes as f64 / 1e12, "TB")
    } else if bytes >= 1_000_000_000 {
        (bytes as f64 / 1e9, "GB")
    } else {
        (bytes as f64 / 1e6, "MB")
    };
    format!("{v:.2} {u} ({bytes} bytes)")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TB4: u64 = 4_000_787_030_016; // a 4 TB HDD
    const GB960: u64 = 960_197_124_096; // a 960 GB SSD
    const TB16: u64 = 1_600_321_314_816; // a 1.6 TB NVMe

    #[test]
    fn units_mean_exactly_what_they_say() {
        assert_eq!(parse_bytes("10G"), Ok(10_000_000_000));
        assert_eq!(parse_bytes("10GB"), Ok(10_000_000_000));
        assert_eq!(parse_bytes("10GiB"), Ok(10 << 30));
        assert_eq!(parse_bytes("1.5TB"), Ok(1_500_000_000_000));
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert!(parse_bytes("10XB").is_err_and(|m| m.contains("KiB")));
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("1..2G").is_err());
        assert!(parse_bytes("0G").is_err());
        assert!(parse_bytes("99999999999999999999T").is_err());
    }

    #[test]
    fn a_lower_bound_takes_every_disk_sold_at_that_size() {
        let f = SizeFilter::parse("4TB:").unwrap();
        assert!(f.matches(TB4));
        assert!(!f.matches(GB960));
        let f = SizeFilter::parse(":2TB").unwrap();
        assert!(f.matches(GB960) && f.matches(TB16) && !f.matches(TB4));
        let f = SizeFilter::parse("1TB:2TB").unwrap();
        assert!(f.matches(TB16) && !f.matches(GB960) && !f.matches(TB4));
    }

    #[test]
    fn an_exact_size_matches_at_the_precision_written() {
        let f = SizeFilter::parse("4TB").unwrap();
        assert!(f.matches(TB4));
        assert!(!f.matches(TB16));
        let f = SizeFilter::parse("1.6TB").unwrap();
        assert!(f.matches(TB16) && !f.matches(TB4));
        let f = SizeFilter::parse("960G").unwrap();
        assert!(f.matches(GB960));
        assert!(!SizeFilter::parse("961G").unwrap().matches(GB960));
    }

    #[test]
    fn bad_filters_say_why() {
        assert!(SizeFilter::parse(":").is_err());
        assert!(SizeFilter::parse("4TB:1TB").is_err_and(|m| m.contains("above")));
        assert!(SizeFilter::parse("big").is_err());
    }
}

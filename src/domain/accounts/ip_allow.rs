//! API users' IP allowlists: single addresses, CIDR ranges, and the keywords `AWS GOOGLE
//! AZURE CLOUDFLARE DIGITAL_OCEAN`, each mapped to a range list file the operator configures
//! (`MERCHANT_CRM_IP_RANGES_<KEYWORD>=/path`, one CIDR or address per line, `#` comments).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::error::AppError;

pub const KEYWORDS: &[&str] = &["AWS", "GOOGLE", "AZURE", "CLOUDFLARE", "DIGITAL_OCEAN"];

/// The keyword range lists loaded at start.
#[derive(Debug, Clone, Default)]
pub struct IpRanges {
    lists: BTreeMap<String, Vec<IpNet>>,
}

impl IpRanges {
    /// Loads `MERCHANT_CRM_IP_RANGES_<KEYWORD>` files found through `get`.
    pub fn load(get: impl Fn(&str) -> Option<String>) -> Result<Self, AppError> {
        let mut lists = BTreeMap::new();
        for kw in KEYWORDS {
            let var = format!("MERCHANT_CRM_IP_RANGES_{kw}");
            if let Some(path) = get(&var) {
                lists.insert(kw.to_string(), read_list(Path::new(&path), &var)?);
            }
        }
        Ok(IpRanges { lists })
    }

    pub fn from_lists(lists: BTreeMap<String, Vec<IpNet>>) -> Self {
        IpRanges { lists }
    }

    /// (keyword, number of ranges) for every loaded list, for the API users page.
    pub fn loaded(&self) -> Vec<(String, usize)> {
        self.lists.iter().map(|(k, v)| (k.clone(), v.len())).collect()
    }

    fn contains(&self, keyword: &str, ip: IpAddr) -> bool {
        self.lists
            .get(keyword)
            .is_some_and(|l| l.iter().any(|n| n.contains(&ip)))
    }
}

fn read_list(path: &Path, var: &str) -> Result<Vec<IpNet>, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AppError::Config(format!("{var}: cannot read {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse_net(line).ok_or_else(|| {
            AppError::Config(format!(
                "{var}: {} line {}: {line:?} is not an address or CIDR",
                path.display(),
                n + 1
            ))
        })?);
    }
    Ok(out)
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// One entry of an allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    Net(IpNet),
    Keyword(String),
}

/// Parses an allowlist (entries separated by spaces, commas or new lines). Empty means
/// "from nowhere": an API user must name where it calls from.
pub fn parse_allowlist(text: &str) -> Result<Vec<AllowEntry>, AppError> {
    let mut out = Vec::new();
    for raw in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
    {
        let upper = raw.to_ascii_uppercase();
        if KEYWORDS.contains(&upper.as_str()) {
            out.push(AllowEntry::Keyword(upper));
        } else if let Some(net) = parse_net(raw) {
            out.push(AllowEntry::Net(net));
        } else {
            return Err(AppError::Validation(format!(
                "{raw:?} is not an IP address, a CIDR range (like 203.0.113.0/24) or one of {}.",
                KEYWORDS.join(", ")
            )));
        }
    }
    if out.is_empty() {
        return Err(AppError::Validation(
            "Give at least one allowed IP address, CIDR range or keyword.".into(),
        ));
    }
    Ok(out)
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The canonical stored form of an allowlist.
pub fn format_allowlist(entries: &[AllowEntry]) -> String {
    entries
        .iter()
        .map(|e| match e {
            AllowEntry::Net(n) if n.prefix_len() == n.max_prefix_len() => n.addr().to_string(),
            AllowEntry::Net(n) => n.to_string(),
            AllowEntry::Keyword(k) => k.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// True when `ip` is allowed by the stored allowlist.
pub fn allows(stored: &str, ip: IpAddr, ranges: &IpRanges) -> bool {
    entries_allow(&parse_allowlist(stored).unwrap_or_default(), ip, ranges)
}

/// True when one of `entries` takes `ip` (IPv4-mapped IPv6 compares as IPv4).
pub fn entries_allow(entries: &[AllowEntry], ip: IpAddr, ranges: &IpRanges) -> bool {
    let ip = canonical(ip);
    entries.iter().any(|e| match e {
        AllowEntry::Net(n) => n.contains(&ip),
        AllowEntry::Keyword(k) => ranges.contains(k, ip),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_cidrs_and_keywords() {
        let mut lists = BTreeMap::new();
        lists.insert("AWS".to_string(), vec!["3.0.0.0/8".parse().unwrap()]);
        let ranges = IpRanges::from_lists(lists);
        let stored = format_allowlist(&parse_allowlist("127.0.0.1, 10.1.0.0/16 aws").unwrap());
        assert_eq!(stored, "127.0.0.1 10.1.0.0/16 AWS");
        assert!(allows(&stored, "127.0.0.1".parse().unwrap(), &ranges));
        assert!(allows(&stored, "::ffff:127.0.0.1".parse().unwrap(), &ranges));
        assert!(allows(&stored, "10.1.200.3".parse().unwrap(), &ranges));
        assert!(allows(&stored, "3.4.5.6".parse().unwrap(), &ranges));
        assert!(!allows(&stored, "10.2.0.1".parse().unwrap(), &ranges));
        assert!(
            !allows("GOOGLE", "8.8.8.8".parse().unwrap(), &ranges),
            "an unloaded keyword allows nothing"
        );
    }

    #[test]
    fn junk_and_empty_lists_are_refused() {
        assert!(parse_allowlist("localhost")
            .unwrap_err()
            .to_string()
            .contains("not an IP address"));
        assert!(parse_allowlist(" , ").is_err());
    }
}

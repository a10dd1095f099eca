//! What each fuzz target checks. The cargo-fuzz targets (`fuzz/fuzz_targets`)
//! call these on generated input; the regression test replays the kept
//! corpus and every input that once failed (`fuzz/regressions`). Each
//! function must return for any input, without panicking, in bounded time
//! and memory; the assertions are properties that must hold.

use machined_controllers::kernel::ask::{self, Heard};
use machined_controllers::kernel::packet;
use machined_controllers::vip::election_value::Holder;
use machined_pki as pki;
use machined_resources::{config, duration};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One fuzz target's check.
pub type Check = fn(&[u8]);

/// The targets, by name (as in `fuzz/Cargo.toml` and the corpus folders).
pub const TARGETS: [(&str, Check); 4] = [
    ("config", config_text),
    ("frames", frames),
    ("election_value", election_value),
    ("pki", pki_material),
];

/// The machine config parser and validator, and the lock-out check; the
/// text (and each of its first lines) also as a duration: whatever parses
/// is printed back as the same duration.
pub fn config_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in std::iter::once(text).chain(text.lines().take(8)) {
        if let Ok(d) = duration::parse(line) {
            let back = duration::format(d);
            assert_eq!(
                duration::parse(&back),
                Ok(d),
                "{line:?} printed as {back:?}"
            );
        }
    }
    match config::parse(text) {
        Ok(parsed) => {
            let _ = config::limits::lockout(&parsed.config);
        }
        Err(e) => assert!(!e.errors.is_empty(), "a refused config names its errors"),
    }
}

/// The frame readers the claim check, the holder prober and the holder's
/// speaker run on whatever arrives on the link, and the builders read back
/// by those readers: whatever asks for the VIP, the answer is heard by the
/// asker as our claim of it. The first 22 bytes choose the addresses
/// looked for; the rest is the frame.
pub fn frames(data: &[u8]) {
    if data.len() < 22 {
        return;
    }
    let (head, frame) = data.split_at(22);
    let mut v4 = [0u8; 4];
    v4.copy_from_slice(&head[..4]);
    let mut v6 = [0u8; 16];
    v6.copy_from_slice(&head[4..20]);
    let (v4, v6) = (Ipv4Addr::from(v4), Ipv6Addr::from(v6));
    let _ = packet::arp_reply_sender(frame);
    let _ = packet::arp_claimant(frame, v4);
    let _ = packet::na_claimant(frame, v6);
    let me = [2, 0, 0, 0, 0, 0x11];
    for ip in [IpAddr::V4(v4), IpAddr::V6(v6)] {
        if let Some(Heard::Asked(a)) = ask::hear(frame, ip, me) {
            let answer = ask::answer(me, ip, &a);
            assert_eq!(ask::hear(&answer, ip, a.mac), Some(Heard::Claimed(me)));
        }
    }

    let mut mac = [2, 0, 0, 0, 0, 1];
    if let Some(m) = frame.get(..6) {
        mac.copy_from_slice(m);
    }
    match head[20] % 4 {
        0 => {
            let [req, reply] = packet::gratuitous_arp(mac, v4);
            assert_eq!(packet::arp_claimant(&req, v4), Some(mac));
            assert_eq!(packet::arp_reply_sender(&reply), Some(v4));
        }
        1 => {
            let na = packet::unsolicited_na(mac, v6);
            assert_eq!(packet::na_claimant(&na, v6), Some(mac));
        }
        2 => {
            let probe = packet::arp_probe(mac, v4);
            assert_eq!(packet::arp_reply_sender(&probe), None);
        }
        _ => {
            let ns = packet::dad_solicit(mac, v6);
            assert_eq!(packet::na_claimant(&ns, v6), None);
        }
    }
    let text = String::from_utf8_lossy(frame);
    if let Some(m) = packet::parse_mac(&text) {
        assert_eq!(packet::parse_mac(&packet::format_mac(&m)), Some(m));
    }
}

/// The election value another node wrote: read strictly, and what is
/// accepted survives a round trip.
pub fn election_value(data: &[u8]) {
    if let Ok(h) = Holder::decode(data, 1) {
        assert_eq!(Holder::decode(h.encode().as_bytes(), 1).ok(), Some(h));
    }
}

/// Certificate and key material from a config (base64 PEM) and from a TLS
/// peer (DER): refused, never a panic.
pub fn pki_material(data: &[u8]) {
    let _ = pki::roles(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = pki::unb64(text);
    let _ = pki::pem_to_der(text);
    let _ = pki::not_after(text);
    let _ = pki::key_from_pem(text);
    // A certificate and a key in one input, split at the first blank line.
    let (cert, key) = text.split_once("\n\n").unwrap_or((text, text));
    let pair = pki::CertKey {
        cert_pem: cert.to_string(),
        key_pem: key.to_string(),
    };
    let _ = pair.validate();
}

//! The little DER and PEM handling rcgen does not do for us: PEM bodies, and
//! turning a SEC1 P-256 key (`EC PRIVATE KEY`, as Talos configs carry) into
//! PKCS#8, which ring reads.

use base64::Engine;

/// Why PEM or DER was not read.
#[derive(Debug, thiserror::Error)]
pub enum DerError {
    #[error("not PEM")]
    NotPem,
    #[error("bad PEM body")]
    Body(#[from] base64::DecodeError),
    #[error("{0}")]
    Layout(&'static str),
}

pub fn pem_body(pem: &str) -> Result<Vec<u8>, DerError> {
    let mut inside = false;
    let mut b64 = String::new();
    for line in pem.lines() {
        let l = line.trim();
        if l.starts_with("-----BEGIN ") {
            inside = true;
        } else if l.starts_with("-----END ") {
            break;
        } else if inside {
            b64.push_str(l);
        }
    }
    if !inside || b64.is_empty() {
        return Err(DerError::NotPem);
    }
    Ok(base64::engine::general_purpose::STANDARD.decode(b64)?)
}

/// One TLV: (tag, content, rest).
fn tlv(b: &[u8]) -> Result<(u8, &[u8], &[u8]), DerError> {
    let (&tag, rest) = b.split_first().ok_or(DerError::Layout("truncated DER"))?;
    let (&l0, mut rest) = rest
        .split_first()
        .ok_or(DerError::Layout("truncated DER"))?;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 2 || rest.len() < n {
            return Err(DerError::Layout("bad DER length"));
        }
        let v = rest[..n]
            .iter()
            .fold(0usize, |a, x| (a << 8) | usize::from(*x));
        rest = &rest[n..];
        v
    };
    if rest.len() < len {
        return Err(DerError::Layout("truncated DER"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn enc(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match content.len() {
        n if n < 0x80 => v.push(n as u8),
        n if n < 0x100 => v.extend([0x81, n as u8]),
        n => v.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(content);
    v
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// SEC1 `ECPrivateKey` (P-256) → PKCS#8 `PrivateKeyInfo`. The curve
/// parameters move to the algorithm identifier; the public key stays.
pub fn sec1_p256_to_pkcs8(sec1: &[u8]) -> Result<Vec<u8>, DerError> {
    let (tag, body, _) = tlv(sec1)?;
    if tag != 0x30 {
        return Err(DerError::Layout("SEC1 key: not a sequence"));
    }
    let (_, version, rest) = tlv(body)?;
    let (t, d, mut rest) = tlv(rest)?;
    if version != [1] || t != 0x04 {
        return Err(DerError::Layout("SEC1 key: unexpected layout"));
    }
    let mut public = None;
    while !rest.is_empty() {
        let (t, c, r) = tlv(rest)?;
        match t {
            0xa0 => {
                let (_, oid, _) = tlv(c)?;
                if oid != OID_P256 {
                    return Err(DerError::Layout("only P-256 EC keys are supported"));
                }
            }
            0xa1 => public = Some(enc(0xa1, c)),
            _ => {}
        }
        rest = r;
    }
    let mut inner = enc(0x02, &[1]);
    inner.extend(enc(0x04, d));
    inner.extend(public.unwrap_or_default());
    let mut alg = enc(0x06, OID_EC_PUBLIC_KEY);
    alg.extend(enc(0x06, OID_P256));
    let mut info = enc(0x02, &[0]);
    info.extend(enc(0x30, &alg));
    info.extend(enc(0x04, &enc(0x30, &inner)));
    Ok(enc(0x30, &info))
}

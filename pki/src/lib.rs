//! Certificates for the machine API and etcd, on rcgen (generation and
//! signing) and x509-parser (reading roles and expiry back): a CA, leaf
//! certificates issued from it, keys in the PEM forms Talos configs carry,
//! and the roles a client certificate grants.

mod der;
pub mod tls;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

/// Roles, carried in the client certificate's organisation (as in Talos).
pub const ROLE_ADMIN: &str = "os:admin";
pub const ROLE_READER: &str = "os:reader";
pub const ROLES: &[&str] = &[ROLE_ADMIN, ROLE_READER];
/// A node calling another on a client's behalf (`-n` through an endpoint):
/// the target takes the client's roles from the call, never more. Only
/// nodes hold it (their own certificate); it is never issued to a client.
pub const ROLE_IMPERSONATOR: &str = "os:impersonator";

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("private key")]
    KeyPem(#[source] der::DerError),
    #[error("certificate")]
    CertPem(#[source] der::DerError),
    #[error("private key")]
    Key(#[source] rcgen::Error),
    #[error("certificate")]
    Cert(#[source] rcgen::Error),
    #[error("certificate")]
    Parse(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>),
    #[error("private key: does not belong to the certificate (its public key differs)")]
    KeyMismatch,
    #[error("certificate: at most two organisations")]
    TooManyOrgs,
    #[error("base64")]
    Base64(#[from] base64::DecodeError),
    #[error("base64: not UTF-8 text")]
    Utf8(#[from] std::string::FromUtf8Error),
}

type Result<T> = std::result::Result<T, PkiError>;

/// A certificate and its private key, PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertKey {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What to put in a leaf certificate.
#[derive(Debug, Clone, Default)]
pub struct Leaf {
    pub common_name: String,
    /// Organisations (roles for client certificates); at most two.
    pub orgs: Vec<String>,
    /// DNS names and IP addresses.
    pub sans: Vec<String>,
    pub server: bool,
    pub client: bool,
    pub days: u32,
}

/// Reads a private key: PKCS#8 (`PRIVATE KEY`, also Talos's `ED25519 PRIVATE
/// KEY` label) or SEC1 P-256 (`EC PRIVATE KEY`).
pub fn key_from_pem(pem: &str) -> Result<KeyPair> {
    if pem.contains("BEGIN EC PRIVATE KEY") {
        let sec1 = der::pem_body(pem).map_err(PkiError::KeyPem)?;
        let pkcs8 = der::sec1_p256_to_pkcs8(&sec1).map_err(PkiError::KeyPem)?;
        return KeyPair::try_from(pkcs8.as_slice()).map_err(PkiError::Key);
    }
    let body = der::pem_body(pem).map_err(PkiError::KeyPem)?;
    KeyPair::try_from(body.as_slice()).map_err(PkiError::Key)
}

fn validity(p: &mut CertificateParams, days: u32) {
    let now = OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(i64::from(days));
}

impl CertKey {
    /// A new CA (ECDSA P-256) named `org`, valid `days`.
    pub fn new_ca(org: &str, days: u32) -> Result<CertKey> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(PkiError::Key)?;
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::OrganizationName, org);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut p, days);
        finish_self_signed(&p, key)
    }

    /// Checks that the pair loads (certificate parses, key is usable).
    /// Both load, and the key is the certificate's own (its public half is
    /// the certificate's subject public key).
    pub fn validate(&self) -> Result<()> {
        let key = key_from_pem(&self.key_pem)?;
        not_after(&self.cert_pem)?;
        let der = der::pem_body(&self.cert_pem).map_err(PkiError::CertPem)?;
        let (_, c) = x509_parser::parse_x509_certificate(&der).map_err(PkiError::Parse)?;
        if c.tbs_certificate.subject_pki.raw
            != rcgen::PublicKeyData::subject_public_key_info(&key).as_slice()
        {
            return Err(PkiError::KeyMismatch);
        }
        Ok(())
    }

    /// Issues a leaf certificate from this CA.
    pub fn issue(&self, leaf: &Leaf) -> Result<CertKey> {
        let ca_key = key_from_pem(&self.key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, ca_key).map_err(PkiError::Cert)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(PkiError::Key)?;
        let mut p = CertificateParams::new(leaf.sans.clone()).map_err(PkiError::Cert)?;
        p.distinguished_name
            .push(DnType::CommonName, leaf.common_name.as_str());
        let mut orgs = leaf.orgs.iter();
        if let Some(o) = orgs.next() {
            p.distinguished_name
                .push(DnType::OrganizationName, o.as_str());
        }
        if let Some(o) = orgs.next() {
            // A second O attribute (rcgen keeps one value per type).
            p.distinguished_name
                .push(DnType::CustomDnType(vec![2, 5, 4, 10]), o.as_str());
        }
        if orgs.next().is_some() {
            return Err(PkiError::TooManyOrgs);
        }
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        if leaf.server {
            p.extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if leaf.client {
            p.extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        validity(&mut p, leaf.days);
        let cert = p.signed_by(&key, &issuer).map_err(PkiError::Cert)?;
        Ok(CertKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A self-signed server certificate (maintenance mode).
pub fn self_signed(sans: &[String], days: u32) -> Result<CertKey> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(PkiError::Key)?;
    let mut p = CertificateParams::new(sans.to_vec()).map_err(PkiError::Cert)?;
    p.distinguished_name
        .push(DnType::CommonName, "machined maintenance");
    p.extended_key_usages
        .push(ExtendedKeyUsagePurpose::ServerAuth);
    validity(&mut p, days);
    finish_self_signed(&p, key)
}

fn finish_self_signed(p: &CertificateParams, key: KeyPair) -> Result<CertKey> {
    let cert = p.self_signed(&key).map_err(PkiError::Cert)?;
    Ok(CertKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The organisations (roles) of a DER certificate.
pub fn roles(cert_der: &[u8]) -> Result<Vec<String>> {
    let (_, c) = x509_parser::parse_x509_certificate(cert_der).map_err(PkiError::Parse)?;
    Ok(c.subject()
        .iter_organization()
        .filter_map(|a| a.as_str().ok().map(String::from))
        .collect())
}

/// The common name of a DER certificate's subject (empty if none).
pub fn common_name(cert_der: &[u8]) -> Result<String> {
    let (_, c) = x509_parser::parse_x509_certificate(cert_der).map_err(PkiError::Parse)?;
    let cn = c
        .subject()
        .iter_common_name()
        .find_map(|a| a.as_str().ok().map(String::from))
        .unwrap_or_default();
    Ok(cn)
}

/// When a PEM certificate expires.
pub fn not_after(cert_pem: &str) -> Result<SystemTime> {
    let der = der::pem_body(cert_pem).map_err(PkiError::CertPem)?;
    let (_, c) = x509_parser::parse_x509_certificate(&der).map_err(PkiError::Parse)?;
    let secs = c.validity().not_after.timestamp();
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// The DER body of the first PEM block.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    der::pem_body(pem).map_err(PkiError::CertPem)
}

/// Writes `data` to `path` atomically (temporary file, fsync, rename) and
/// readable by its owner only: for keys, and configs that hold them.
pub fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub fn unb64(s: &str) -> Result<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s.trim())?;
    Ok(String::from_utf8(bytes)?)
}

#[cfg(test)]
mod tests;

//! Who may do what. Maintenance mode (no config yet): only applying a config
//! and reading the version. Configured: a client certificate from the
//! machine CA is required (TLS checks the signature); its organisation
//! carries the role: `os:admin` may do everything, `os:reader` may only
//! read, and never sensitive resources.

use machined_pki::{ROLE_ADMIN, ROLE_READER};
use machined_resources::types::MachineConfigSpec;
use machined_resources::State;
use tonic::{Request, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Allowed in maintenance mode too (apply-config, version).
    Maintenance,
    /// Read non-sensitive resources.
    Read,
    /// Change things, read sensitive resources.
    Admin,
}

pub fn configured(state: &State) -> bool {
    state.has_typed::<MachineConfigSpec>(MachineConfigSpec::ID)
}

/// Metadata a node calling on a client's behalf sets to the client's
/// roles (comma-separated).
pub const ON_BEHALF: &str = "x-machined-roles";

/// Metadata a node calling on a client's behalf sets to the client's
/// certificate name.
pub const ON_BEHALF_NAME: &str = "x-machined-client";

/// Who is calling, for the record: the client certificate's name and
/// roles; for a call forwarded by a node, the client's as the node says,
/// and the node's.
pub fn caller<T>(req: &Request<T>) -> String {
    let der = req.peer_certs().and_then(|c| c.first().map(|d| d.to_vec()));
    let own = der
        .as_deref()
        .and_then(|d| machined_pki::common_name(d).ok())
        .unwrap_or_default();
    let roles = roles(req).join(",");
    let own_roles = der
        .as_deref()
        .and_then(|d| machined_pki::roles(d).ok())
        .unwrap_or_default();
    if !own_roles
        .iter()
        .any(|r| r == machined_pki::ROLE_IMPERSONATOR)
    {
        return format!("{} ({roles})", printable(&own));
    }
    let client = req
        .metadata()
        .get(ON_BEHALF_NAME)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?");
    format!("{} ({roles}) via {}", printable(client), printable(&own))
}

/// A name from a certificate or a header, safe to put in a record: at most
/// 64 printable characters.
fn printable(s: &str) -> String {
    let t: String = s.chars().filter(|c| !c.is_control()).take(64).collect();
    if t.is_empty() {
        "(unnamed)".into()
    } else {
        t
    }
}

/// The caller's roles: its client certificate's (none without one); for a
/// node calling on a client's behalf (`os:impersonator`), the client's roles
/// as the call carries them, known ones only.
pub fn roles<T>(req: &Request<T>) -> Vec<String> {
    let own: Vec<String> = req
        .peer_certs()
        .and_then(|c| c.first().and_then(|der| machined_pki::roles(der).ok()))
        .unwrap_or_default();
    if !own.iter().any(|r| r == machined_pki::ROLE_IMPERSONATOR) {
        return own;
    }
    req.metadata()
        .get(ON_BEHALF)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|r| machined_pki::ROLES.contains(r))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

pub fn check<T>(req: &Request<T>, state: &State, need: Need) -> Result<(), Status> {
    if !configured(state) {
        return match need {
            Need::Maintenance => Ok(()),
            _ => Err(Status::permission_denied(
                "the node is in maintenance mode: it serves only apply-config (mctl apply-config --insecure) and version",
            )),
        };
    }
    let roles = roles(req);
    if req.peer_certs().is_none() {
        return Err(Status::unauthenticated(
            "a client certificate signed by the machine CA is required",
        ));
    }
    let admin = roles.iter().any(|r| r == ROLE_ADMIN);
    let reader = admin || roles.iter().any(|r| r == ROLE_READER);
    let ok = match need {
        Need::Maintenance | Need::Admin => admin,
        Need::Read => reader,
    };
    if ok {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "role {} may not do this (needs {})",
            if roles.is_empty() {
                "(none)".to_string()
            } else {
                roles.join(",")
            },
            if need == Need::Read {
                "os:reader or os:admin"
            } else {
                "os:admin"
            }
        )))
    }
}

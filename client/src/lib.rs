//! What a client of machined (mctl, the system tests) needs: connecting to
//! the machine API with mTLS ([`client`]) and resources to and from their
//! wire form ([`convert`]). The services themselves are in `machined-api`.

pub mod client;
pub mod convert;

/// Default port of the machine API.
pub const DEFAULT_PORT: u16 = 50000;

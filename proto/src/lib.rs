//! Generated gRPC types of the machine API (`proto/machine.proto`).

#![allow(clippy::all)]

pub mod v1 {
    tonic::include_proto!("machined.v1");
}

pub use v1::*;

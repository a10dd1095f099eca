//! What carries a DHCP client's frames: a trait, so the operator is tested
//! with a scripted server; the real one is a raw packet socket on the link
//! that hears only UDP to the client port ([`RawSockets`]).

use super::frame;
use crate::kernel::packet::PacketSocket;
use async_trait::async_trait;
use std::io;

/// One link's DHCP frames, whole Ethernet frames both ways.
#[async_trait]
pub trait DhcpSocket: Send + Sync {
    fn send(&self, frame: &[u8]) -> io::Result<()>;
    /// Waits for the next frame to the client port.
    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
}

/// Opens a link's [`DhcpSocket`].
pub trait DhcpSockets: Send + Sync {
    fn open(&self, link_index: u32) -> io::Result<Box<dyn DhcpSocket>>;
}

/// Raw packet sockets: a client without an address can neither send from
/// 0.0.0.0 through a UDP socket nor hear a broadcast answer on the link of
/// its choice.
pub struct RawSockets;

impl DhcpSockets for RawSockets {
    fn open(&self, link_index: u32) -> io::Result<Box<dyn DhcpSocket>> {
        Ok(Box::new(PacketSocket::udp_to_port(
            link_index,
            frame::CLIENT_PORT,
        )?))
    }
}

#[async_trait]
impl DhcpSocket for PacketSocket {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        PacketSocket::send(self, frame)
    }
    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        PacketSocket::recv(self, buf).await
    }
}

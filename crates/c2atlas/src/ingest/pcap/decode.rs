//! One captured frame → the IP/transport facts the flow table needs.
//!
//! The link layer is peeled here (Ethernet with VLAN tags via `etherparse`,
//! Linux SLL/SLL2, BSD loopback/null, raw IP); the IP layer is decoded with
//! `etherparse`'s lax slicer, which accepts packets cut by the snap length;
//! the transport headers (TCP, UDP, ICMP) are read by hand from the IP
//! payload so that the *claimed* payload length (from the IP length fields)
//! is known even when the captured bytes are shorter.
//!
//! Invariant: [`decode`] never panics and never reads out of bounds; every
//! failure is a [`Decoded::Malformed`] with a reason.

use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket};

use crate::model::Proto;

/// Link-layer header types (tcpdump.org `LINKTYPE_*`) we decode.
pub(crate) mod linktype {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: i32 = 0;
    pub const ETHERNET: i32 = 1;
    /// `DLT_RAW` as written by some BSDs (12) and OpenBSD (14).
    pub const RAW_BSD: i32 = 12;
    pub const RAW_OPENBSD: i32 = 14;
    pub const RAW: i32 = 101;
    /// OpenBSD loopback: like NULL with the family in network byte order.
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const LINUX_SLL2: i32 = 276;
}

/// TCP flag bits.
pub(crate) mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// The parts of an IP packet the flow table and the application parsers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Packet<'p> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: Proto,
    /// TCP/UDP ports; ICMP type and code; 0 for other protocols.
    pub sport: u16,
    pub dport: u16,
    /// TCP flags and sequence number (0 for other protocols).
    pub flags: u8,
    pub seq: u32,
    /// Transport payload as captured (may be shorter than `payload_len`).
    pub payload: &'p [u8],
    /// Transport payload length claimed by the IP header: what was on the wire.
    pub payload_len: u64,
}

/// What a frame turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decoded<'p> {
    Ip(Packet<'p>),
    /// A well-formed frame that carries no IP (ARP, LLDP, STP, …), or a
    /// non-first IP fragment (no transport header): skipped, not malformed.
    NotIp(String),
    Malformed(String),
}

/// Decodes one frame of link type `link`.
pub(crate) fn decode(link: i32, frame: &[u8]) -> Decoded<'_> {
    let sliced = match link {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(frame).map_err(|e| e.to_string()),
        linktype::NULL | linktype::LOOP => {
            let Some(fam) = frame.get(..4) else {
                return Decoded::Malformed(format!("loopback header cut ({} bytes)", frame.len()));
            };
            let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let be = u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]);
            // AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
            let is_ip = |f: u32| matches!(f, 2 | 24 | 28 | 30);
            if !is_ip(le) && !is_ip(be) {
                return Decoded::NotIp(format!("loopback address family {le}"));
            }
            from_ip(&frame[4..])
        }
        linktype::RAW
        | linktype::RAW_BSD
        | linktype::RAW_OPENBSD
        | linktype::IPV4
        | linktype::IPV6 => from_ip(frame),
        linktype::LINUX_SLL => {
            // 16-byte header; the protocol (an EtherType for IP) is its last 2 bytes.
            let (Some(proto), Some(rest)) = (frame.get(14..16), frame.get(16..)) else {
                return Decoded::Malformed(format!("Linux SLL header cut ({} bytes)", frame.len()));
            };
            Ok(LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([proto[0], proto[1]])),
                rest,
            ))
        }
        linktype::LINUX_SLL2 => {
            // 20-byte header; the protocol is its first 2 bytes.
            let (Some(proto), Some(rest)) = (frame.get(0..2), frame.get(20..)) else {
                return Decoded::Malformed(format!(
                    "Linux SLL2 header cut ({} bytes)",
                    frame.len()
                ));
            };
            Ok(LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([proto[0], proto[1]])),
                rest,
            ))
        }
        other => return Decoded::NotIp(format!("unsupported link type {other}")),
    };
    match sliced {
        Ok(p) => from_sliced(p),
        Err(reason) => Decoded::Malformed(reason),
    }
}

fn from_ip(bytes: &[u8]) -> Result<LaxSlicedPacket<'_>, String> {
    LaxSlicedPacket::from_ip(bytes).map_err(|e| e.to_string())
}

fn from_sliced(p: LaxSlicedPacket<'_>) -> Decoded<'_> {
    let (src, dst, payload, claimed, first_fragment) = match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let pl = v4.payload();
            let claimed = if pl.incomplete {
                usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4)
            } else {
                pl.payload.len()
            };
            let first = !pl.fragmented || h.fragments_offset().value() == 0;
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                pl.clone(),
                claimed,
                first,
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let pl = v6.payload();
            // When cut, the claim includes any extension headers (rare; documented over-count).
            let claimed = if pl.incomplete {
                usize::from(h.payload_length())
            } else {
                pl.payload.len()
            };
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                pl.clone(),
                claimed,
                // An IPv6 fragment header hides where the fragment starts: only
                // unfragmented payloads are decoded further.
                !pl.fragmented,
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Decoded::NotIp("ARP".into()),
        None => {
            return match p.stop_err {
                Some((err, layer)) => Decoded::Malformed(format!("{layer}: {err}")),
                None => Decoded::NotIp(match p.link.as_ref().and_then(|l| l.to_header()) {
                    Some(etherparse::LinkHeader::Ethernet2(h)) => {
                        format!("EtherType 0x{:04x}", h.ether_type.0)
                    }
                    _ => "no IP layer".into(),
                }),
            };
        }
    };
    if !first_fragment {
        return Decoded::NotIp("non-first IP fragment".into());
    }
    let ipn = payload.ip_number.0;
    let data = payload.payload;
    transport(src, dst, ipn, data, claimed as u64)
}

/// Reads the transport header from the IP payload `data` (captured bytes)
/// whose on-the-wire length is `claimed`.
fn transport<'p>(src: IpAddr, dst: IpAddr, ipn: u8, data: &'p [u8], claimed: u64) -> Decoded<'p> {
    let be16 = |i: usize| data.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let mut pkt = Packet {
        src,
        dst,
        proto: Proto::Other(ipn),
        sport: 0,
        dport: 0,
        flags: 0,
        seq: 0,
        payload: &[],
        payload_len: claimed,
    };
    match ipn {
        6 => {
            let (Some(sport), Some(dport), Some(&off), Some(&flags)) =
                (be16(0), be16(2), data.get(12), data.get(13))
            else {
                return Decoded::Malformed(format!("TCP header cut ({} bytes)", data.len()));
            };
            let hlen = usize::from(off >> 4) * 4;
            if hlen < 20 {
                return Decoded::Malformed(format!("TCP data offset {hlen} < 20"));
            }
            let seq = data
                .get(4..8)
                .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            pkt.proto = Proto::Tcp;
            pkt.sport = sport;
            pkt.dport = dport;
            pkt.flags = flags;
            pkt.seq = seq;
            pkt.payload = data.get(hlen..).unwrap_or(&[]);
            pkt.payload_len = claimed.saturating_sub(hlen as u64);
        }
        17 => {
            let (Some(sport), Some(dport)) = (be16(0), be16(2)) else {
                return Decoded::Malformed(format!("UDP header cut ({} bytes)", data.len()));
            };
            pkt.proto = Proto::Udp;
            pkt.sport = sport;
            pkt.dport = dport;
            pkt.payload = data.get(8..).unwrap_or(&[]);
            pkt.payload_len = claimed.saturating_sub(8);
        }
        1 | 58 => {
            let (Some(&ty), Some(&code)) = (data.first(), data.get(1)) else {
                return Decoded::Malformed(format!("ICMP header cut ({} bytes)", data.len()));
            };
            pkt.proto = Proto::Icmp;
            pkt.sport = u16::from(ty);
            pkt.dport = u16::from(code);
            pkt.payload_len = claimed.saturating_sub(8);
        }
        _ => {}
    }
    Decoded::Ip(pkt)
}

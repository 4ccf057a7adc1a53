//! A lenient DNS message reader (RFC 1035 wire format) for the names the
//! census needs: the question, and the A/AAAA/CNAME answers.
//!
//! Hand-written rather than `simple-dns`/`hickory-proto`: those reject a
//! whole message when one record is bad, while malware and broken resolvers
//! send such messages and the question name is still evidence. Here the
//! header and question must parse; answers are read until the first bad one
//! and the good ones before it are kept.
//!
//! Invariants: never panics, never reads out of bounds; compression pointers
//! must point strictly backwards (so no loops) and a name is at most
//! [`MAX_NAME_BYTES`] long.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest name accepted, in presentation bytes (RFC 1035 caps names at 255 wire bytes).
pub(crate) const MAX_NAME_BYTES: usize = 255;

/// Answers kept per message; a larger answer section is cut (a response
/// that fits in one UDP datagram rarely has more than a few dozen).
pub(crate) const MAX_ANSWERS: usize = 64;

/// The parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub id: u16,
    pub response: bool,
    pub rcode: u8,
    pub qname: String,
    pub qtype: u16,
    /// A/AAAA addresses and CNAME targets, in order.
    pub answers: Vec<String>,
}

struct Reader<'m> {
    msg: &'m [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u16(&mut self) -> Option<u16> {
        let b = self.msg.get(self.pos..self.pos + 2)?;
        self.pos += 2;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn skip(&mut self, n: usize) -> Option<&[u8]> {
        let b = self.msg.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(b)
    }

    /// Reads a (possibly compressed) name at the cursor.
    fn name(&mut self) -> Result<String, &'static str> {
        let (name, end) = read_name(self.msg, self.pos)?;
        self.pos = end;
        Ok(name)
    }
}

/// Reads the name at `start`; returns it and the offset just after it in the
/// message (after the first pointer, if any). Non-printable bytes and dots
/// inside labels are escaped as `\xNN`, as Zeek logs them.
fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), &'static str> {
    let mut out = String::new();
    let mut pos = start;
    let mut end = None;
    // Every pointer must go strictly backwards: bounded and loop-free.
    let mut limit = start;
    loop {
        let &len = msg.get(pos).ok_or("name runs past the message")?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    pos += 1;
                    break;
                }
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or("label runs past the message")?;
                if !out.is_empty() {
                    out.push('.');
                }
                for &b in label {
                    if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                        out.push(char::from(b));
                    } else {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                if out.len() > MAX_NAME_BYTES {
                    return Err("name longer than 255 bytes");
                }
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let &lo = msg.get(pos + 1).ok_or("pointer runs past the message")?;
                let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                if target >= limit {
                    return Err("compression pointer does not point backwards");
                }
                end.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return Err("reserved label type"),
        }
    }
    Ok((out, end.unwrap_or(pos)))
}

/// Parses a DNS message. Fails only when the header or the first question
/// cannot be read; bad answers end the answer list.
pub(crate) fn parse(msg: &[u8]) -> Result<Message, &'static str> {
    let mut r = Reader { msg, pos: 0 };
    let (Some(id), Some(flags), Some(qd), Some(an)) = (r.u16(), r.u16(), r.u16(), r.u16()) else {
        return Err("header shorter than 12 bytes");
    };
    r.skip(4).ok_or("header shorter than 12 bytes")?;
    if qd == 0 {
        return Err("no question");
    }
    let qname = r.name()?;
    let qtype = r.u16().ok_or("question cut")?;
    let _qclass = r.u16().ok_or("question cut")?;
    let mut m = Message {
        id,
        response: flags & 0x8000 != 0,
        rcode: (flags & 0x000f) as u8,
        qname,
        qtype,
        answers: Vec::new(),
    };
    // Further questions (almost never more than one): skip them.
    for _ in 1..qd {
        if r.name().is_err() || r.skip(4).is_none() {
            return Ok(m);
        }
    }
    for _ in 0..an.min(MAX_ANSWERS as u16) {
        if answer(&mut r, &mut m.answers).is_none() {
            break;
        }
    }
    Ok(m)
}

/// Reads one resource record, pushing A/AAAA/CNAME data. `None` on a bad record.
fn answer(r: &mut Reader<'_>, out: &mut Vec<String>) -> Option<()> {
    r.name().ok()?;
    let ty = r.u16()?;
    let _class = r.u16()?;
    r.skip(4)?; // TTL
    let rdlen = usize::from(r.u16()?);
    let rdata_at = r.pos;
    let rdata = r.skip(rdlen)?;
    match (ty, rdlen) {
        (1, 4) => out.push(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string()),
        (28, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(rdata);
            out.push(Ipv6Addr::from(a).to_string());
        }
        (5, _) => {
            let (name, _) = read_name(&r.msg[..rdata_at + rdlen], rdata_at).ok()?;
            out.push(name);
        }
        _ => {}
    }
    Some(())
}

/// Query type name (IANA mnemonic), or `TYPE<n>` (RFC 3597) when not in the table.
pub(crate) fn qtype_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        252 => "AXFR",
        255 => "*",
        257 => "CAA",
        _ => return format!("TYPE{t}"),
    };
    s.to_string()
}

/// Response code name as Zeek logs it, or `RCODE<n>`.
pub(crate) fn rcode_name(c: u8) -> String {
    let s = match c {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => return format!("RCODE{c}"),
    };
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Query for www.example.com A, id 0x1234.
    pub(crate) fn query() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in ["www", "example", "com"] {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        m
    }

    #[test]
    fn question_and_answers_with_compression() {
        let mut m = query();
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = 3; // ancount
        // CNAME www.example.com -> cdn.example.com (pointer to "example" at 16)
        m.extend_from_slice(&[
            0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'c', b'd', b'n', 0xc0, 16,
        ]);
        // A 93.184.216.34 for the CNAME target
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
        // A record with a bad rdlength: ends the list, keeps the previous ones.
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 99, 1]);
        let p = parse(&m).unwrap();
        assert!(p.response);
        assert_eq!(p.id, 0x1234);
        assert_eq!(p.qname, "www.example.com");
        assert_eq!(p.qtype, 1);
        assert_eq!(p.answers, vec!["cdn.example.com", "93.184.216.34"]);
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_rejected() {
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]); // points at itself
        assert!(parse(&m).is_err());
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 20, 0, 1, 0, 1, 0, 0]); // forward
        assert!(parse(&m).is_err());
    }

    #[test]
    fn odd_bytes_are_escaped() {
        let mut m = vec![
            0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'a', b'.', 0, 0, 0, 1, 0, 1,
        ];
        assert_eq!(parse(&m).unwrap().qname, "a\\x2e\\x00");
        m.truncate(14);
        assert!(parse(&m).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&data);
        }
    }
}

//! The Server Name Indication of a TLS ClientHello.
//!
//! A small hand parser rather than `tls-parser`: that crate needs the whole
//! TLS record and reports `Incomplete` otherwise, while a ClientHello with
//! post-quantum key shares no longer fits one TCP segment and snap lengths
//! cut packets. Walking the hello field by field finds the SNI in whatever
//! prefix is present; every read is bounds-checked.

/// Longest ClientHello buffered across segments: one full TLS record
/// (2^14 bytes of fragment + 5 header bytes).
pub(crate) const MAX_HELLO_BYTES: usize = (1 << 14) + 5;

/// Whether `seg` starts like a TLS handshake record (type 22, version 3.x).
pub(crate) fn is_handshake(seg: &[u8]) -> bool {
    matches!(seg, [0x16, 0x03, 0..=0x04, ..])
}

/// Bytes of the first record (header included) as announced by its header.
pub(crate) fn record_len(seg: &[u8]) -> Option<usize> {
    let b = seg.get(3..5)?;
    Some(5 + usize::from(u16::from_be_bytes([b[0], b[1]])))
}

/// What a (possibly partial) record revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the names say what was found
pub(crate) enum Hello {
    /// A ClientHello with this SNI (`None`: it has no SNI extension).
    ClientHello(Option<String>),
    /// Not enough bytes to tell.
    Incomplete,
    /// Not a ClientHello.
    NotHello,
}

struct Cur<'b> {
    b: &'b [u8],
    pos: usize,
}

impl<'b> Cur<'b> {
    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|s| usize::from(s[0]))
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))
    }
}

/// Reads the ClientHello in `rec` (a TLS record, from its 5-byte header on).
pub(crate) fn client_hello(rec: &[u8]) -> Hello {
    if !is_handshake(rec) {
        return Hello::NotHello;
    }
    let mut c = Cur { b: rec, pos: 5 };
    match c.u8() {
        Some(1) => {}
        Some(_) => return Hello::NotHello,
        None => return Hello::Incomplete,
    }
    // Handshake length (3), client version (2), random (32).
    if c.take(3 + 2 + 32).is_none() {
        return Hello::Incomplete;
    }
    let complete = record_len(rec).is_some_and(|n| rec.len() >= n);
    let walk = |c: &mut Cur<'_>| -> Option<Option<String>> {
        let sid = c.u8()?;
        c.take(sid)?;
        let suites = c.u16()?;
        c.take(suites)?;
        let comp = c.u8()?;
        c.take(comp)?;
        let Some(ext_total) = c.u16() else {
            // A hello without extensions ends after the compression methods.
            return complete.then_some(None);
        };
        let end = c.pos.saturating_add(ext_total);
        while c.pos < end {
            let ty = c.u16()?;
            let len = c.u16()?;
            let data = c.take(len)?;
            if ty == 0 {
                // server_name_list: u16 length, then (type u8, u16 length, name).
                let mut s = Cur { b: data, pos: 2 };
                while let Some(kind) = s.u8() {
                    let n = s.u16()?;
                    let name = s.take(n)?;
                    if kind == 0 {
                        return Some(Some(String::from_utf8_lossy(name).into_owned()));
                    }
                }
                return Some(None);
            }
        }
        Some(None)
    };
    match walk(&mut c) {
        Some(sni) => Hello::ClientHello(sni),
        None => Hello::Incomplete,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal ClientHello record with the given SNI and one extension before it.
    pub(crate) fn hello(sni: &str) -> Vec<u8> {
        let mut ext = vec![0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]; // ec_point_formats
        let n = sni.len();
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&((n + 5) as u16).to_be_bytes());
        ext.extend_from_slice(&((n + 3) as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(n as u16).to_be_bytes());
        ext.extend_from_slice(sni.as_bytes());
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn sni_found_and_prefixes_are_incomplete() {
        let rec = hello("c2.example.net");
        assert_eq!(
            client_hello(&rec),
            Hello::ClientHello(Some("c2.example.net".into()))
        );
        assert_eq!(record_len(&rec), Some(rec.len()));
        for cut in 0..rec.len() - 1 {
            let r = client_hello(&rec[..cut]);
            assert!(r == Hello::Incomplete || cut < 3, "cut {cut}: {r:?}");
        }
        let mut server_hello = rec.clone();
        server_hello[5] = 2;
        assert_eq!(client_hello(&server_hello), Hello::NotHello);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut d = vec![0x16, 0x03, 0x01, 0x00, 0x80, 0x01];
            d.extend_from_slice(&data);
            let _ = client_hello(&d);
            let _ = client_hello(&data);
        }
    }
}

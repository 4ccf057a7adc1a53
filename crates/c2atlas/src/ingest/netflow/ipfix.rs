//! IPFIX (RFC 7011) messages: header, template / options template /
//! withdrawal sets, data sets. A datagram may hold several messages back to
//! back (each is decoded in turn); files are handled by `ingest::ipfix_file`.

use super::template::{RawField, Template, TimeCtx, be16, be32};
use super::{Ctx, SourceKey};

/// IPFIX message header length.
pub const IPFIX_HEADER_LEN: usize = 16;
/// Set header length.
const SET_HEADER: usize = 4;
/// Set ids: template set, options template set; ≥ 256 are data sets.
const TEMPLATE_SET: u16 = 2;
const OPTIONS_SET: u16 = 3;
const FIRST_DATA_SET: u16 = 256;
/// Protocol version in the header.
pub const VERSION: u16 = 10;

/// The length field of the IPFIX message header at the start of `head`
/// (`None` when `head` is not the start of a version-10 header).
pub fn message_len(head: &[u8]) -> Option<usize> {
    (be16(head, 0)? == VERSION).then_some(())?;
    be16(head, 2).map(usize::from)
}

/// Decodes every message of `data`.
pub(crate) fn decode(ctx: &mut Ctx<'_>, data: &[u8]) {
    let mut pos = 0usize;
    while pos < data.len() {
        let Some(rest) = data.get(pos..) else { break };
        match message_len(rest) {
            Some(len) if len >= IPFIX_HEADER_LEN && len <= rest.len() => {
                message(ctx, rest.get(..len).unwrap_or(&[]), pos);
                pos += len;
            }
            Some(len) => {
                ctx.malformed(
                    pos,
                    format!(
                        "IPFIX message length {len} (header needs {IPFIX_HEADER_LEN}, {} bytes left)",
                        rest.len()
                    ),
                );
                return;
            }
            None => {
                ctx.malformed(pos, "trailing bytes after the IPFIX message");
                return;
            }
        }
    }
}

/// One complete message (`msg` is exactly its length; `base` its offset).
fn message(ctx: &mut Ctx<'_>, msg: &[u8], base: usize) {
    let (Some(export), Some(seq), Some(domain)) = (be32(msg, 4), be32(msg, 8), be32(msg, 12))
    else {
        ctx.malformed(base, "IPFIX header cut");
        return;
    };
    let key = SourceKey {
        exporter: ctx.exporter,
        version: 10,
        domain,
    };
    if ctx.source(key).is_none() {
        return;
    }
    let time = TimeCtx {
        export_us: i64::from(export) * 1_000_000,
        uptime_ms: None,
    };
    let mut records: Option<u32> = Some(0);
    let mut pos = IPFIX_HEADER_LEN;
    while pos < msg.len() {
        let (Some(id), Some(len)) = (be16(msg, pos), be16(msg, pos + 2)) else {
            ctx.malformed(base + pos, "set header cut");
            break;
        };
        let len = usize::from(len);
        if len < SET_HEADER || pos + len > msg.len() {
            ctx.malformed(
                base + pos,
                format!(
                    "set {id} length {len} outside the message ({} bytes left)",
                    msg.len() - pos
                ),
            );
            // Unknown counts from here on: do not judge the next sequence number.
            records = None;
            break;
        }
        let body = msg.get(pos + SET_HEADER..pos + len).unwrap_or(&[]);
        let at = base + pos + SET_HEADER;
        match id {
            TEMPLATE_SET | OPTIONS_SET => templates(ctx, key, id == OPTIONS_SET, body, at),
            FIRST_DATA_SET.. => match ctx.data_set(key, id, body, &time, at) {
                Some(n) => {
                    records = records.map(|r| r.wrapping_add(n as u32));
                }
                None => records = None,
            },
            // Reserved set ids (0, 1: NetFlow v9; 4..255): skipped.
            _ => {}
        }
        pos += len;
    }
    ctx.sequence(key, seq, records, true);
}

/// A template or options template set.
fn templates(ctx: &mut Ctx<'_>, key: SourceKey, options: bool, body: &[u8], at: usize) {
    let mut pos = 0usize;
    let mut fields: Vec<RawField> = Vec::new();
    // Anything shorter than a record header is padding.
    while body.len().saturating_sub(pos) >= 4 {
        let (Some(id), Some(count)) = (be16(body, pos), be16(body, pos + 2)) else {
            break;
        };
        let rec_at = at + pos;
        pos += 4;
        if count == 0 {
            // Withdrawal (RFC 7011 §8.1): the set id as template id withdraws all.
            if id == TEMPLATE_SET || id == OPTIONS_SET {
                ctx.withdraw(key, None);
            } else {
                ctx.withdraw(key, Some(id));
            }
            continue;
        }
        if id < FIRST_DATA_SET {
            ctx.malformed(rec_at, format!("template id {id} below 256"));
            return;
        }
        let count = usize::from(count);
        if count > super::template::MAX_TEMPLATE_FIELDS {
            ctx.malformed(
                rec_at,
                format!(
                    "template {id} declares {count} fields, more than the limit of {}",
                    super::template::MAX_TEMPLATE_FIELDS
                ),
            );
            return;
        }
        if options {
            // Scope field count: read and ignored (options records are only counted).
            if be16(body, pos).is_none() {
                ctx.malformed(rec_at, format!("options template {id} header cut"));
                return;
            }
            pos += 2;
        }
        fields.clear();
        for _ in 0..count {
            let (Some(ie), Some(len)) = (be16(body, pos), be16(body, pos + 2)) else {
                ctx.malformed(
                    rec_at,
                    format!("template {id} cut after {} fields", fields.len()),
                );
                return;
            };
            pos += 4;
            let enterprise = ie & 0x8000 != 0;
            if enterprise {
                if be32(body, pos).is_none() {
                    ctx.malformed(rec_at, format!("template {id} cut in an enterprise number"));
                    return;
                }
                pos += 4;
            }
            fields.push(RawField {
                ie: (!enterprise).then_some(ie),
                len,
            });
        }
        match Template::compile(id, &fields, options, true) {
            Ok(t) => ctx.add_template(key, id, t),
            Err(e) => {
                ctx.malformed(rec_at, e.to_string());
            }
        }
    }
}

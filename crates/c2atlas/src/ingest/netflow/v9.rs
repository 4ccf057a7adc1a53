//! NetFlow v9 (RFC 3954) packets: header, template and options template
//! flowsets, data flowsets. Times are `sysUpTime`-relative
//! (FIRST_SWITCHED/LAST_SWITCHED) against the header's uptime and Unix
//! seconds, or absolute when the exporter uses the IPFIX time elements.

use super::template::{RawField, Template, TimeCtx, be16, be32};
use super::{Ctx, SourceKey};

/// Header length.
const HEADER: usize = 20;
const FLOWSET_HEADER: usize = 4;
/// Flowset ids: templates, options templates; ≥ 256 are data.
const TEMPLATE_SET: u16 = 0;
const OPTIONS_SET: u16 = 1;
const FIRST_DATA_SET: u16 = 256;

pub(crate) fn decode(ctx: &mut Ctx<'_>, data: &[u8]) {
    let (Some(uptime), Some(secs), Some(seq), Some(source_id)) =
        (be32(data, 4), be32(data, 8), be32(data, 12), be32(data, 16))
    else {
        ctx.malformed(0, format!("NetFlow v9 header cut ({} bytes)", data.len()));
        return;
    };
    let key = SourceKey {
        exporter: ctx.exporter,
        version: 9,
        domain: source_id,
    };
    if ctx.source(key).is_none() {
        return;
    }
    // The package sequence counts export packets (RFC 3954 §5.1).
    ctx.sequence(key, seq, Some(1), false);
    let time = TimeCtx {
        export_us: i64::from(secs) * 1_000_000,
        uptime_ms: Some(uptime),
    };
    let mut pos = HEADER;
    while data.len().saturating_sub(pos) >= FLOWSET_HEADER {
        let (Some(id), Some(len)) = (be16(data, pos), be16(data, pos + 2)) else {
            break;
        };
        let len = usize::from(len);
        if len < FLOWSET_HEADER || pos + len > data.len() {
            ctx.malformed(
                pos,
                format!(
                    "flowset {id} length {len} outside the packet ({} bytes left)",
                    data.len() - pos
                ),
            );
            return;
        }
        let body = data.get(pos + FLOWSET_HEADER..pos + len).unwrap_or(&[]);
        let at = pos + FLOWSET_HEADER;
        match id {
            TEMPLATE_SET => templates(ctx, key, body, at),
            OPTIONS_SET => options(ctx, key, body, at),
            FIRST_DATA_SET.. => {
                ctx.data_set(key, id, body, &time, at);
            }
            _ => {}
        }
        pos += len;
    }
}

fn read_fields(body: &[u8], pos: &mut usize, count: usize, out: &mut Vec<RawField>) -> bool {
    out.clear();
    for _ in 0..count {
        let (Some(ie), Some(len)) = (be16(body, *pos), be16(body, *pos + 2)) else {
            return false;
        };
        *pos += 4;
        out.push(RawField { ie: Some(ie), len });
    }
    true
}

fn templates(ctx: &mut Ctx<'_>, key: SourceKey, body: &[u8], at: usize) {
    let mut pos = 0usize;
    let mut fields = Vec::new();
    while body.len().saturating_sub(pos) >= 4 {
        let (Some(id), Some(count)) = (be16(body, pos), be16(body, pos + 2)) else {
            break;
        };
        let rec_at = at + pos;
        pos += 4;
        let count = usize::from(count);
        if id < FIRST_DATA_SET {
            ctx.malformed(rec_at, format!("template id {id} below 256"));
            return;
        }
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
        if !read_fields(body, &mut pos, count, &mut fields) {
            ctx.malformed(rec_at, format!("template {id} cut"));
            return;
        }
        match Template::compile(id, &fields, false, false) {
            Ok(t) => ctx.add_template(key, id, t),
            Err(e) => ctx.malformed(rec_at, e.to_string()),
        }
    }
}

/// Options templates: scope and option field lengths are in bytes.
fn options(ctx: &mut Ctx<'_>, key: SourceKey, body: &[u8], at: usize) {
    let mut pos = 0usize;
    let mut fields = Vec::new();
    while body.len().saturating_sub(pos) >= 6 {
        let (Some(id), Some(scope_len), Some(opt_len)) =
            (be16(body, pos), be16(body, pos + 2), be16(body, pos + 4))
        else {
            break;
        };
        let rec_at = at + pos;
        pos += 6;
        if id < FIRST_DATA_SET {
            // Padding after the last options template.
            return;
        }
        let count = (usize::from(scope_len) + usize::from(opt_len)) / 4;
        if count > super::template::MAX_TEMPLATE_FIELDS {
            ctx.malformed(
                rec_at,
                format!("options template {id} declares {count} fields, more than the limit"),
            );
            return;
        }
        if !read_fields(body, &mut pos, count, &mut fields) {
            ctx.malformed(rec_at, format!("options template {id} cut"));
            return;
        }
        match Template::compile(id, &fields, true, false) {
            Ok(t) => ctx.add_template(key, id, t),
            Err(e) => ctx.malformed(rec_at, e.to_string()),
        }
    }
}

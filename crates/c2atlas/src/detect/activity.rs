//! Host activity (BotMiner's "A-plane", BotHunter's dialog stages): what a
//! domestic host does besides talking to one endpoint — mail to many
//! servers (spam), many unanswered connections to distinct hosts (scanning,
//! failing spam, propagation attempts). Periodic contact alone is common in
//! benign software (tickers, chat, update polls); periodic contact from a host
//! that also spams or scans is the botnet pattern. Per host a fixed-size
//! record: counts and two linear-counting bitmaps of distinct destinations.

use std::net::IpAddr;

use crate::model::Flow;

/// Bits per distinct-destination bitmap (linear counting, accurate to ~1,000).
const BITS: usize = 256;
/// Mail ports: SMTP, submission, SMTPS.
const MAIL_PORTS: [u16; 3] = [25, 465, 587];
/// Distinct mail servers contacted for full spam evidence (a mail client talks to one or two).
pub const SPAM_DISTINCT: f64 = 20.0;
/// Below this, no evidence at all.
const SPAM_FLOOR: f64 = 5.0;

/// Activity of one host.
#[derive(Clone, Debug, Default)]
pub struct HostActivity {
    pub mail_flows: u32,
    pub unanswered: u32,
    mail_dsts: [u64; BITS / 64],
    unanswered_dsts: [u64; BITS / 64],
}

fn slot(ip: IpAddr) -> usize {
    let h = match ip {
        IpAddr::V4(v) => u64::from(u32::from(v)),
        IpAddr::V6(v) => {
            let x = u128::from(v);
            (x as u64) ^ ((x >> 64) as u64)
        }
    };
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % BITS
}

fn set(bits: &mut [u64; BITS / 64], ip: IpAddr) {
    let s = slot(ip);
    bits[s / 64] |= 1 << (s % 64);
}

fn distinct(bits: &[u64; BITS / 64]) -> f64 {
    let zeros: u32 = bits.iter().map(|w| w.count_zeros()).sum();
    let m = BITS as f64;
    if zeros == 0 {
        m * m.ln()
    } else {
        -m * (f64::from(zeros) / m).ln()
    }
}

impl HostActivity {
    /// Adds an outbound flow from the host to an external address.
    pub fn add(&mut self, f: &Flow<'_>) {
        if MAIL_PORTS.contains(&f.dport) {
            self.mail_flows = self.mail_flows.saturating_add(1);
            set(&mut self.mail_dsts, f.dst);
        }
        if f.dst_bytes == 0 {
            self.unanswered = self.unanswered.saturating_add(1);
            set(&mut self.unanswered_dsts, f.dst);
        }
    }

    /// Estimated distinct mail servers contacted.
    pub fn mail_servers(&self) -> f64 {
        distinct(&self.mail_dsts)
    }

    /// Estimated distinct unanswered destinations.
    pub fn unanswered_hosts(&self) -> f64 {
        distinct(&self.unanswered_dsts)
    }

    /// Evidence of malicious activity in [0, 1]: mail to many distinct
    /// servers. Unanswered fan-out is reported but not used as evidence: on
    /// CTU-13 busy clean hosts (P2P, browsers) reach 600+ unanswered peers.
    pub fn evidence(&self) -> f64 {
        ((self.mail_servers() - SPAM_FLOOR) / (SPAM_DISTINCT - SPAM_FLOOR)).clamp(0.0, 1.0)
    }

    /// Whether `port` is a mail-submission port (mail flows are activity, not C2 contact).
    pub fn is_mail_port(port: u16) -> bool {
        MAIL_PORTS.contains(&port)
    }

    /// What fired, for explanations.
    pub fn describe(&self) -> String {
        format!(
            "host activity: {} mail flows to ≈{:.0} servers, {} unanswered flows to ≈{:.0} hosts",
            self.mail_flows,
            self.mail_servers(),
            self.unanswered,
            self.unanswered_hosts()
        )
    }
}

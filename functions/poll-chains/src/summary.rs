//! What an invocation of `poll-chains` reports: the JSON summary it
//! returns and logs, and the chain metrics its alarms watch.

use ferry_runtime::metrics::{MetricLine, Unit};
use serde::Serialize;

/// At most this many distinct error messages go into a summary.
const MAX_ERRORS: usize = 10;

/// The metrics each invocation emits (EMF lines, [`ferry_runtime::metrics`]);
/// the alarms in `template.yaml` name them.
pub mod metrics {
    /// Per chain (`ChainId`): confirmed blocks beyond the cursor after the
    /// chain's last successful scan.
    pub const BLOCKS_BEHIND_HEAD: &str = "BlocksBehindHead";
    /// Per chain (`ChainId`): seconds since the chain's cursor last moved or
    /// was found at the confirmed head (its last successful scan).
    pub const SECONDS_SINCE_CURSOR_ADVANCED: &str = "SecondsSinceCursorAdvanced";
    /// Without dimensions: the largest [`SECONDS_SINCE_CURSOR_ADVANCED`] of
    /// all chains, one alarm for any number of chains.
    pub const MAX_SECONDS_SINCE_CURSOR_ADVANCED: &str = "MaxSecondsSinceCursorAdvanced";
    /// The dimension of the per-chain metrics.
    pub const CHAIN_ID: &str = "ChainId";
}

/// What one invocation did, per chain; returned as the invocation's JSON
/// result and logged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PollSummary {
    pub chains: Vec<ChainSummary>,
    /// Scan attempts, those whose node could not be verified included.
    pub scans: u64,
    pub failed_scans: u64,
    pub transfers: u64,
    pub deposits_enqueued: u64,
    /// Deposits the recovery sweep queued again.
    pub deposits_recovered: u64,
    pub elapsed_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainSummary {
    pub chain_id: u64,
    pub verified: bool,
    pub scans: u64,
    pub failed_scans: u64,
    /// The last block scanned in this invocation, if any.
    pub last_scanned_block: Option<u64>,
    pub transfers: u64,
    pub deposits_enqueued: u64,
    /// Confirmed blocks beyond the cursor after the last successful scan.
    pub blocks_behind: Option<u64>,
    /// Seconds since the cursor last moved or was found at the confirmed
    /// head, at the end of the invocation.
    pub seconds_since_cursor_advanced: u64,
    /// Distinct failures (redacted), at most a few.
    pub errors: Vec<String>,
}

impl ChainSummary {
    pub(crate) fn error(&mut self, message: String) {
        if self.errors.len() < MAX_ERRORS && !self.errors.contains(&message) {
            self.errors.push(message);
        }
    }
}

/// The invocation's chain metrics: one EMF line per chain (`ChainId`) and
/// one without dimensions with the largest stall, which the template's
/// `ChainCursorStalledAlarm` watches whatever chains are configured.
pub fn metric_lines(chains: &[ChainSummary]) -> Vec<MetricLine> {
    let mut lines: Vec<MetricLine> = chains
        .iter()
        .map(|chain| {
            let line = MetricLine::new().dimension(metrics::CHAIN_ID, chain.chain_id.to_string()).metric(
                metrics::SECONDS_SINCE_CURSOR_ADVANCED,
                chain.seconds_since_cursor_advanced as f64,
                Unit::Seconds,
            );
            match chain.blocks_behind {
                Some(behind) => line.metric(metrics::BLOCKS_BEHIND_HEAD, behind as f64, Unit::Count),
                None => line,
            }
        })
        .collect();
    if let Some(max) = chains.iter().map(|chain| chain.seconds_since_cursor_advanced).max() {
        lines.push(MetricLine::new().metric(metrics::MAX_SECONDS_SINCE_CURSOR_ADVANCED, max as f64, Unit::Seconds));
    }
    lines
}

pub(crate) fn emit_metrics(chains: &[ChainSummary]) {
    for line in metric_lines(chains) {
        line.emit();
    }
}

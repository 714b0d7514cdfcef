//! One simulated appliance: installed software, install history, failover state, its view of
//! the cluster configuration (masters), connected client sessions and active faults.

use std::collections::{BTreeSet, HashMap};

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::faults::FaultState;
pub(crate) use crate::fleet::NodeKind;
use crate::fleet::{ClientSpec, PackageKind, Product};
pub(crate) use crate::log::FailoverRole;
use crate::version::Version;

/// What the appliance's software is doing. The index is into `Appliance::installs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    Idle,
    Installing(usize),
    Rebooting(usize),
    /// A base install failed: waits for a person (R6).
    Failed(usize),
}

/// The software state of `/software`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SoftwareState {
    /// Not installing.
    Idle,
    /// Running an install (not serving, API still answering).
    Installing,
    /// Rebooting at the end of a base install (not answering at all).
    Rebooting,
    /// A base install failed; blocked until a person clears it.
    Failed,
}

impl SoftwareState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Installing => "installing",
            Self::Rebooting => "rebooting",
            Self::Failed => "failed",
        }
    }
}

/// The state of one install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallState {
    /// Installing.
    Running,
    /// Base install done, rebooting.
    Rebooting,
    /// Done.
    Succeeded,
    /// Failed (see the message).
    Failed,
}

impl InstallState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Rebooting => "rebooting",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// One install of a package.
#[derive(Debug, Clone)]
pub(crate) struct Install {
    pub(crate) id: String,
    pub(crate) package: String,
    pub(crate) kind: PackageKind,
    pub(crate) state: InstallState,
    pub(crate) started_at: f64,
    /// End of the install proper.
    pub(crate) phase_end: f64,
    /// End of the reboot (base) or `phase_end`.
    pub(crate) end: f64,
    pub(crate) finished_at: Option<f64>,
    pub(crate) message: Option<String>,
    /// Planned failure: when and with what message.
    pub(crate) fail: Option<(f64, String)>,
    /// The failure is the update server's pre-check (clock): nothing was changed, so even a
    /// base package does not leave the appliance blocked.
    pub(crate) precheck_failure: bool,
}

impl Install {
    pub(crate) fn progress(&self, now: f64) -> u8 {
        let frac = |a: f64, b: f64| {
            if b > a {
                ((now - a) / (b - a)).clamp(0.0, 1.0)
            } else {
                1.0
            }
        };
        // A base install spends its last fifth of the bar rebooting.
        let run_share = if self.kind == PackageKind::Base {
            80.0
        } else {
            99.0
        };
        let pct = match self.state {
            InstallState::Succeeded => 100.0,
            InstallState::Running => run_share * frac(self.started_at, self.phase_end),
            InstallState::Rebooting => run_share + 19.0 * frac(self.phase_end, self.end),
            InstallState::Failed => {
                let at = self.finished_at.unwrap_or(now);
                run_share * (at - self.started_at) / (self.phase_end - self.started_at).max(1e-9)
            }
        };
        pct.clamp(0.0, 100.0) as u8
    }
}

/// Client types of `get_connected_client_list`, in the documented order.
pub(crate) const CLIENT_TYPES: [&str; 5] = [
    "representative",
    "support_customer",
    "presentation_attendee",
    "push_agent",
    "pinned_client",
];

/// Relative frequency of each client type among arrivals.
pub(crate) const CLIENT_TYPE_WEIGHTS: [f64; 5] = [0.2, 0.5, 0.05, 0.1, 0.15];

/// Live client sessions on one appliance.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions {
    live: HashMap<u64, usize>,
    counts: [u64; 5],
}

impl Sessions {
    pub(crate) fn total(&self) -> u64 {
        self.live.len() as u64
    }

    pub(crate) fn counts(&self) -> [u64; 5] {
        self.counts
    }

    pub(crate) fn add(&mut self, id: u64, ty: usize) {
        let ty = ty.min(CLIENT_TYPES.len() - 1);
        self.live.insert(id, ty);
        self.counts[ty] += 1;
    }

    /// Ends one session; false if it was already gone (cut).
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        match self.live.remove(&id) {
            Some(ty) => {
                self.counts[ty] = self.counts[ty].saturating_sub(1);
                true
            }
            None => false,
        }
    }

    /// Cuts every session; returns how many there were.
    pub(crate) fn clear(&mut self) -> u64 {
        let n = self.total();
        self.live.clear();
        self.counts = [0; 5];
        n
    }
}

/// One traffic node's entry in a master's cluster configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeCfg {
    pub(crate) accepting: bool,
    /// Taken out of accepting by an operator request (I2 counts these), not by the automatic
    /// flip of a master install.
    pub(crate) by_operator: bool,
}

/// A simulated appliance.
#[derive(Debug)]
pub(crate) struct Appliance {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) hostname: String,
    pub(crate) product: Product,
    /// `https://127.0.0.1:PORT`, its unique address.
    pub(crate) endpoint: String,
    pub(crate) port: u16,
    pub(crate) version: Version,
    pub(crate) base_version: Version,
    pub(crate) activity: Activity,
    pub(crate) staged: BTreeSet<String>,
    pub(crate) installs: Vec<Install>,
    pub(crate) idempotency: HashMap<String, usize>,
    pub(crate) group: usize,
    pub(crate) kind: NodeKind,
    pub(crate) role: FailoverRole,
    pub(crate) backup_ops: bool,
    pub(crate) shared_ip_enabled: bool,
    /// Last data sync seen by this appliance: simulated time and success.
    pub(crate) last_sync: Option<(f64, bool)>,
    /// Masters only: the cluster configuration as this master holds it, by traffic index.
    pub(crate) cluster_cfg: Vec<NodeCfg>,
    /// Traffic nodes: "Accepting new client connections" as the acting master says.
    pub(crate) accepting: bool,
    pub(crate) sessions: Sessions,
    pub(crate) clients: Option<ClientSpec>,
    pub(crate) faults: FaultState,
    /// Draws for installs; clients have their own stream so that install durations do not
    /// depend on how many clients arrived before (reproducible runs per seed).
    pub(crate) rng: ChaCha8Rng,
    pub(crate) client_rng: ChaCha8Rng,
    /// Whether the API answers; the listener drops connections when false.
    pub(crate) reach: watch::Sender<bool>,
    pub(crate) download_key: String,
}

impl Appliance {
    /// Up = running its software normally (not installing, rebooting or failed).
    pub(crate) fn up(&self) -> bool {
        self.activity == Activity::Idle
    }

    /// Whether the API answers at all.
    pub(crate) fn reachable(&self, now: f64) -> bool {
        !matches!(self.activity, Activity::Rebooting(_)) && !self.faults.unreachable_at(now)
    }

    pub(crate) fn healthy(&self) -> bool {
        self.up() && self.faults.health.is_none()
    }

    pub(crate) fn software_state(&self) -> SoftwareState {
        match self.activity {
            Activity::Idle => SoftwareState::Idle,
            Activity::Installing(_) => SoftwareState::Installing,
            Activity::Rebooting(_) => SoftwareState::Rebooting,
            Activity::Failed(_) => SoftwareState::Failed,
        }
    }

    pub(crate) fn current_install(&self) -> Option<usize> {
        match self.activity {
            Activity::Installing(i) | Activity::Rebooting(i) => Some(i),
            _ => None,
        }
    }

    pub(crate) fn is_master(&self) -> bool {
        self.kind == NodeKind::Master
    }

    pub(crate) fn region(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Traffic { region } => Some(region),
            _ => None,
        }
    }

    pub(crate) fn build(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{}:{}", self.product.as_str(), self.version));
        format!("build-{}", &hex::encode(digest)[..6])
    }
}

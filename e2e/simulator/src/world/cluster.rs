//! Atlas clusters: each master holds its own copy of the cluster configuration (which traffic
//! nodes accept new client connections); the acting primary master's copy is in force.
//! A master that takes an install sets every node to "not accepting" in ITS copy
//! (procedures.md §4 step 4, §5 step 4), which takes effect when that master is, or becomes,
//! the acting primary. Syncs copy the acting master's configuration to the other master.

use super::appliance::NodeCfg;
use super::group::{Distribution, NodeDist, OpState, SyncKind};
use super::scheduler::Ev;
use super::{ErrorCode, FailoverRole, GroupKind, OpError, World};
use crate::log::Fact;

impl World {
    /// The master whose configuration is in force: the failover primary; the only master;
    /// with the relationship broken, the one holding the site address (else the configured
    /// primary master); none while both are backup mid-swap.
    pub(crate) fn acting_master(&self, g: usize) -> Option<usize> {
        let group = &self.groups[g];
        if group.kind != GroupKind::Cluster {
            return None;
        }
        if let Some(p) = group
            .site
            .iter()
            .copied()
            .find(|&m| self.apps[m].role == FailoverRole::Primary)
        {
            return Some(p);
        }
        if group.site.len() == 1 || !group.established {
            return group
                .site
                .iter()
                .copied()
                .find(|&m| self.holds_site(m))
                .or(group.site.first().copied());
        }
        None
    }

    /// `primary_master | backup_master | traffic | none`.
    pub(crate) fn cluster_role(&self, app: usize) -> &'static str {
        let a = &self.apps[app];
        match a.kind {
            super::NodeKind::Master if a.role == FailoverRole::Backup => "backup_master",
            super::NodeKind::Master => "primary_master",
            super::NodeKind::Traffic { .. } => "traffic",
            _ => "none",
        }
    }

    /// Applies the acting master's configuration to the traffic nodes. While no master acts
    /// (mid-swap) the nodes keep what they had.
    pub(crate) fn refresh_cluster(&mut self, g: usize) {
        let Some(m) = self.acting_master(g) else {
            return;
        };
        for (i, node) in self.groups[g].traffic.clone().into_iter().enumerate() {
            let accepting = self.apps[m].cluster_cfg.get(i).is_none_or(|c| c.accepting);
            self.apps[node].accepting = accepting;
        }
    }

    /// A master taking an install marks every node "not accepting" in its own copy.
    pub(crate) fn master_install_flip(&mut self, master: usize, t: f64) {
        for cfg in &mut self.apps[master].cluster_cfg {
            if cfg.accepting {
                *cfg = NodeCfg {
                    accepting: false,
                    by_operator: false,
                };
            }
        }
        self.record(t, Fact::MasterInstallFlip { master });
    }

    pub(crate) fn copy_cluster_config(&mut self, g: usize) {
        let Some(m) = self.acting_master(g) else {
            return;
        };
        let cfg = self.apps[m].cluster_cfg.clone();
        for other in self.groups[g].site.clone() {
            if other != m {
                self.apps[other].cluster_cfg.clone_from(&cfg);
            }
        }
    }

    fn require_acting_master(&self, app: usize) -> Result<usize, OpError> {
        let g = self.apps[app].group;
        if self.acting_master(g) == Some(app) {
            Ok(g)
        } else {
            Err(OpError::new(
                ErrorCode::NotMaster,
                "only the primary master node can do this",
            ))
        }
    }

    /// "Accepting new client connections" on a traffic node, from the primary master.
    pub(crate) fn set_accepting(
        &mut self,
        app: usize,
        node_id: &str,
        accepting: bool,
        t: f64,
    ) -> Result<usize, OpError> {
        let g = self.require_acting_master(app)?;
        self.require_up(app)?;
        let idx = self.groups[g]
            .traffic
            .iter()
            .position(|&n| self.apps[n].id == node_id || self.apps[n].name == node_id)
            .ok_or_else(|| {
                OpError::new(ErrorCode::NotFound, format!("no traffic node {node_id}"))
            })?;
        let node = self.groups[g].traffic[idx];
        let cfg = self.apps[app].cluster_cfg[idx];
        if cfg.accepting == accepting {
            return Ok(node);
        }
        self.apps[app].cluster_cfg[idx] = NodeCfg {
            accepting,
            by_operator: !accepting,
        };
        self.record(
            t,
            Fact::AcceptingChanged {
                master: app,
                node,
                accepting,
            },
        );
        self.settle(t);
        Ok(node)
    }

    /// "Distribute to cluster": stage a package on every node.
    pub(crate) fn distribute(&mut self, app: usize, package: &str, t: f64) -> Result<(), OpError> {
        let g = self.require_acting_master(app)?;
        self.require_up(app)?;
        if self.package(package).is_none() {
            return Err(OpError::new(
                ErrorCode::NotFound,
                format!("no package {package:?}"),
            ));
        }
        if let Some(d) = &self.groups[g].distribution
            && d.state == OpState::Running
        {
            return if d.package == package {
                Ok(())
            } else {
                Err(OpError::new(
                    ErrorCode::InstallInProgress,
                    format!("a distribution of {} is running", d.package),
                ))
            };
        }
        let id = self.next_id();
        let members = self.groups[g].members.clone();
        for &node in &members {
            let at = t + self.group_uniform(g, self.timings.distribute_s);
            self.sched
                .push(at, Ev::DistributeNode { group: g, id, node });
        }
        self.groups[g].distribution = Some(Distribution {
            id,
            package: package.to_owned(),
            state: OpState::Running,
            nodes: members
                .into_iter()
                .map(|n| (n, NodeDist::Pending))
                .collect(),
        });
        self.record(
            t,
            Fact::DistributionStarted {
                appliance: app,
                package: package.to_owned(),
            },
        );
        self.settle(t);
        Ok(())
    }

    pub(crate) fn distribute_node(&mut self, g: usize, id: u64, node: usize, t: f64) {
        let Some(package) = self.groups[g]
            .distribution
            .as_ref()
            .filter(|d| d.id == id)
            .map(|d| d.package.clone())
        else {
            return;
        };
        let outcome =
            if !self.apps[node].reachable(t) || self.apps[node].current_install().is_some() {
                NodeDist::Failed("node unreachable".into())
            } else {
                // A node that already has it counts as staged.
                match self.stage(node, &package, "distributed", t) {
                    Ok(_) => NodeDist::Staged,
                    Err(e) if e.code == ErrorCode::AlreadyInstalled => NodeDist::Staged,
                    Err(e) => NodeDist::Failed(e.message),
                }
            };
        let Some(dist) = self.groups[g].distribution.as_mut() else {
            return;
        };
        if let Some(entry) = dist.nodes.iter_mut().find(|(n, _)| *n == node) {
            entry.1 = outcome;
        }
        if dist.nodes.iter().all(|(_, s)| *s != NodeDist::Pending) {
            let ok = dist.nodes.iter().all(|(_, s)| *s == NodeDist::Staged);
            dist.state = if ok {
                OpState::Succeeded
            } else {
                OpState::Failed
            };
            self.record(
                t,
                Fact::DistributionFinished {
                    group: g,
                    package,
                    ok,
                },
            );
        }
    }

    /// Sync Now in Cluster :: Status.
    pub(crate) fn cluster_sync_now(&mut self, app: usize, t: f64) -> Result<(), OpError> {
        let g = self.require_acting_master(app)?;
        self.require_up(app)?;
        if self.groups[g].cluster_sync.state != OpState::Running {
            self.start_sync(g, app, SyncKind::Cluster, true, t);
            self.settle(t);
        }
        Ok(())
    }
}

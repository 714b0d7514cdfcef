//! Reading the software facts: install requests, refusals (and the repeated requests they
//! reveal), starts, reboots and ends, and the faults that bear on the verdict (a failing
//! health check, a person clearing a blocked appliance).

use super::Referee;
use super::model::{Activity, LastInstall};
use super::report::InstallOutcome;
use crate::faults::Fault;
use crate::fleet::PackageKind;

/// How an install started, as the log says.
#[derive(Debug, Clone, Copy)]
pub(super) struct Start<'a> {
    pub(super) package: &'a str,
    pub(super) install: &'a str,
    pub(super) duration_s: f64,
    pub(super) allow_connected_clients: bool,
    pub(super) precheck_failed: bool,
}

impl Referee {
    pub(super) fn install_requested(&mut self, app: usize, package: &str, t: f64) {
        let m = &self.model;
        let kind = m.package_for(app, package).map(|p| p.kind);
        let group = &m.site_of(app).shape.name;
        self.books
            .install_requested((app, package), m.name(app), group, kind, t);
        self.check_blocked_group(app, package, t);
    }

    /// A refusal; "already installed", or "in progress" for the package that is running, is
    /// a non-idempotent request repeated (I8 as seen from the appliances).
    pub(super) fn install_refused(&mut self, app: usize, package: &str, code: &str, t: f64) {
        let repeated = match code {
            "install_in_progress" if self.model.running_install(app) == Some(package) => {
                Some(format!("second install of {package} while it runs"))
            }
            "already_installed" => Some(format!("install of {package} which is already installed")),
            _ => None,
        };
        if let Some(what) = repeated {
            self.books.duplicate(self.model.name(app), t, &what);
        }
        self.books.install_refused((app, package), code);
    }

    pub(super) fn install_started(&mut self, app: usize, s: Start<'_>, t: f64) {
        // The update server's pre-check refuses before anything changes: nothing to judge.
        if !s.precheck_failed {
            self.check_install_start(app, s.allow_connected_clients, t);
        }
        self.books.install_started((app, s.package), t);
        let base = self
            .model
            .package(s.package)
            .is_some_and(|p| p.kind == PackageKind::Base);
        let node = &mut self.model.nodes[app];
        node.activity = Activity::Installing;
        node.last_install = Some(LastInstall {
            package: s.package.to_owned(),
            blocks_on_failure: base && !s.precheck_failed,
            succeeded: false,
        });
        let detail = format!("{} ({}), {:.0} s", s.package, s.install, s.duration_s);
        let group = &self.model.site_of(app).shape.name;
        self.books.event(
            t,
            Some(self.model.name(app)),
            Some(group),
            "install_started",
            &detail,
        );
    }

    pub(super) fn reboot_started(&mut self, app: usize, package: &str, t: f64) {
        self.model.nodes[app].activity = Activity::Rebooting;
        self.note(t, app, "reboot_started", package);
    }

    pub(super) fn install_succeeded(&mut self, app: usize, package: &str, t: f64) {
        self.model.installed(app, package);
        let node = &mut self.model.nodes[app];
        node.activity = Activity::Idle;
        if let Some(last) = &mut node.last_install {
            last.succeeded = true;
        }
        let detail = format!("{package} -> {} / base {}", node.version, node.base_version);
        self.books
            .install_finished((app, package), t, InstallOutcome::Succeeded, None);
        self.note(t, app, "install_succeeded", &detail);
        self.maybe_complete_cycle(self.model.nodes[app].group, t);
    }

    pub(super) fn install_failed(&mut self, app: usize, package: &str, message: &str, t: f64) {
        let node = &mut self.model.nodes[app];
        let blocks = node
            .last_install
            .as_ref()
            .is_some_and(|l| l.package == package && l.blocks_on_failure);
        // A failed base install waits for a person (R6); a failed product install rolls
        // back and the appliance serves its old version again.
        node.activity = if blocks {
            Activity::Failed
        } else {
            Activity::Idle
        };
        let group = node.group;
        self.books
            .install_finished((app, package), t, InstallOutcome::Failed, Some(message));
        self.note(t, app, "install_failed", &format!("{package}: {message}"));
        if blocks {
            self.cycles[group].blocked.insert(app);
        }
    }

    pub(super) fn fault_injected(&mut self, app: usize, fault: &Fault, t: f64) {
        if matches!(fault, Fault::FailHealth { .. }) {
            self.model.nodes[app].health_fault = true;
        }
        let detail = serde_json::to_string(fault).unwrap_or_default();
        self.note(t, app, "fault_injected", &detail);
    }

    /// "A person" cleared the appliance: faults gone, a failed base install released.
    pub(super) fn faults_cleared(&mut self, app: usize, t: f64) {
        let node = &mut self.model.nodes[app];
        node.health_fault = false;
        let released = node.activity == Activity::Failed;
        if released {
            node.activity = Activity::Idle;
        }
        let group = node.group;
        self.cycles[group].blocked.remove(&app);
        let detail = if released {
            "faults cleared; failed base install released by a person"
        } else {
            "faults cleared"
        };
        self.note(t, app, "faults_cleared", detail);
    }
}

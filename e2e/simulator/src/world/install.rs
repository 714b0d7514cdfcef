//! Software packages and installs: what an appliance is offered, staging (download,
//! distribution, offline upload), and installs with their phases — run, then for base
//! software a reboot during which the appliance does not answer — and their failures.

use crate::fleet::{PackageKind, PackageSpec};

use super::appliance::{Activity, Install, InstallState};
use super::scheduler::Ev;
use super::{ErrorCode, OpError, World};
use crate::log::Fact;

/// Beyond this clock error (real seconds) the update server refuses the appliance (R8).
const MAX_CLOCK_SKEW_S: f64 = 300.0;

/// A package as one appliance sees it.
#[derive(Debug, Clone)]
pub(crate) struct PackageView {
    pub(crate) spec: PackageSpec,
    pub(crate) staged: bool,
    pub(crate) installable: bool,
}

/// `POST /installs`.
#[derive(Debug, Clone)]
pub(crate) struct InstallRequest {
    pub(crate) package_id: String,
    pub(crate) allow_connected_clients: bool,
    pub(crate) idempotency_key: Option<String>,
}

impl World {
    /// Whether `pkg` is installed on `app`: its version is at most the installed one of
    /// its kind.
    pub(crate) fn installed(&self, app: usize, pkg: &PackageSpec) -> bool {
        let a = &self.apps[app];
        match pkg.kind {
            PackageKind::Base => pkg.version <= a.base_version,
            PackageKind::Product => pkg.version <= a.version,
        }
    }

    fn offered(&self, app: usize, pkg: &PackageSpec) -> bool {
        pkg.product.is_none_or(|p| p == self.apps[app].product)
    }

    fn requirements_met(&self, app: usize, pkg: &PackageSpec) -> bool {
        pkg.requires
            .iter()
            .all(|r| self.package(r).is_some_and(|req| self.installed(app, req)))
    }

    /// Packages newer than installed, for this product; staged ones are no longer
    /// "available" (R7).
    pub(crate) fn packages(&self, app: usize) -> Vec<PackageView> {
        self.catalogue
            .iter()
            .filter(|p| self.offered(app, p) && !self.installed(app, p))
            .map(|p| PackageView {
                spec: p.clone(),
                staged: self.apps[app].staged.contains(&p.id),
                installable: self.requirements_met(app, p),
            })
            .collect()
    }

    /// Download a package onto the appliance without installing it.
    pub(crate) fn stage(
        &mut self,
        app: usize,
        id: &str,
        how: &'static str,
        t: f64,
    ) -> Result<PackageView, OpError> {
        let pkg = self
            .package(id)
            .filter(|p| self.offered(app, p))
            .cloned()
            .ok_or_else(|| OpError::new(ErrorCode::NotFound, format!("no package {id:?}")))?;
        if self.installed(app, &pkg) {
            return Err(OpError::new(
                ErrorCode::AlreadyInstalled,
                format!("{} is already installed", pkg.name),
            ));
        }
        if self.apps[app].staged.insert(pkg.id.clone()) {
            self.record(
                t,
                Fact::Staged {
                    appliance: app,
                    package: pkg.id.clone(),
                    how,
                },
            );
            self.settle(t);
        }
        Ok(PackageView {
            installable: self.requirements_met(app, &pkg),
            spec: pkg,
            staged: true,
        })
    }

    /// Starts an install. Returns the install index and whether it is an Idempotency-Key
    /// replay of an earlier request.
    pub(crate) fn start_install(
        &mut self,
        app: usize,
        req: &InstallRequest,
        t: f64,
    ) -> Result<(usize, bool), OpError> {
        if let Some(key) = &req.idempotency_key
            && let Some(&i) = self.apps[app].idempotency.get(key)
        {
            return if self.apps[app].installs[i].package == req.package_id {
                Ok((i, true))
            } else {
                Err(OpError::new(
                    ErrorCode::InvalidRequest,
                    "Idempotency-Key already used for another package",
                ))
            };
        }
        let pkg = self
            .package(&req.package_id)
            .filter(|p| self.offered(app, p))
            .cloned();
        self.record(
            t,
            Fact::InstallRequested {
                appliance: app,
                package: req.package_id.clone(),
            },
        );
        let refuse = |w: &mut World, e: OpError| {
            w.record(
                t,
                Fact::InstallRefused {
                    appliance: app,
                    package: req.package_id.clone(),
                    code: e.code.as_str(),
                },
            );
            Err(e)
        };
        let Some(pkg) = pkg else {
            return refuse(
                self,
                OpError::new(
                    ErrorCode::NotFound,
                    format!("no package {:?}", req.package_id),
                ),
            );
        };
        match self.apps[app].activity {
            Activity::Failed(i) => {
                let msg = self.apps[app].installs[i]
                    .message
                    .clone()
                    .unwrap_or_default();
                return refuse(
                    self,
                    OpError::new(
                        ErrorCode::InstallBlocked,
                        format!(
                            "a base software update failed ({msg}); contact support before any further update"
                        ),
                    ),
                );
            }
            Activity::Installing(_) | Activity::Rebooting(_) => {
                return refuse(
                    self,
                    OpError::new(
                        ErrorCode::InstallInProgress,
                        "an update is already being installed",
                    ),
                );
            }
            Activity::Idle => {}
        }
        if self.installed(app, &pkg) {
            return refuse(
                self,
                OpError::new(
                    ErrorCode::AlreadyInstalled,
                    format!("{} is already installed", pkg.name),
                ),
            );
        }
        if !self.apps[app].staged.contains(&pkg.id) {
            return refuse(
                self,
                OpError::new(
                    ErrorCode::NotStaged,
                    format!("{} has not been downloaded", pkg.name),
                ),
            );
        }
        if !self.requirements_met(app, &pkg) {
            return refuse(
                self,
                OpError::new(
                    ErrorCode::PrerequisiteMissing,
                    format!("{} requires {}", pkg.name, pkg.requires.join(", ")),
                ),
            );
        }

        // R8: the update server refuses an appliance with a wrong clock before anything
        // changes, so the appliance keeps serving and nothing is judged.
        let skew = self.apps[app].faults.skew_s;
        let precheck_failure = skew.abs() > MAX_CLOCK_SKEW_S;
        let duration = super::uniform(&mut self.apps[app].rng, pkg.install_s);
        let index = self.apps[app].installs.len();
        let id = format!("inst-{}-{}", self.apps[app].name, index + 1);
        self.record(
            t,
            Fact::InstallStarted {
                appliance: app,
                package: pkg.id.clone(),
                install: id.clone(),
                duration_s: duration,
                allow_connected_clients: req.allow_connected_clients,
                precheck_failed: precheck_failure,
            },
        );
        let fail = if precheck_failure {
            Some((
                t,
                format!(
                    "update verification failed: the appliance clock is {skew:.0} s off; check NTP"
                ),
            ))
        } else {
            // The install starts: judge it, then take the appliance out of service.
            self.cut_sessions(
                app,
                t,
                &format!("install of {}", pkg.id),
                req.allow_connected_clients,
            );
            self.apps[app]
                .faults
                .take_install_failure(pkg.kind)
                .map(|m| (t + duration / 2.0, m))
        };
        let reboot = if pkg.kind == PackageKind::Base {
            self.timings.reboot_s
        } else {
            0.0
        };
        let install = Install {
            id: id.clone(),
            package: pkg.id.clone(),
            kind: pkg.kind,
            state: InstallState::Running,
            started_at: t,
            phase_end: t + duration,
            end: t + duration + reboot,
            finished_at: None,
            message: None,
            fail: fail.clone(),
            precheck_failure,
        };
        let step_at = fail.as_ref().map_or(install.phase_end, |(at, _)| *at);
        self.apps[app].installs.push(install);
        self.apps[app].activity = Activity::Installing(index);
        if let Some(key) = &req.idempotency_key {
            self.apps[app].idempotency.insert(key.clone(), index);
        }
        if self.apps[app].is_master() && !precheck_failure {
            self.master_install_flip(app, t);
        }
        if step_at <= t {
            self.install_step(app, index, t);
        } else {
            self.sched.push(
                step_at,
                Ev::InstallStep {
                    app,
                    install: index,
                },
            );
        }
        self.settle(t);
        Ok((index, false))
    }

    pub(crate) fn install_step(&mut self, app: usize, index: usize, t: f64) {
        let Some(install) = self.apps[app].installs.get(index).cloned() else {
            return;
        };
        match install.state {
            InstallState::Running => {
                if let Some((at, msg)) = install.fail.filter(|(at, _)| *at <= t) {
                    self.install_failed(app, index, at, msg);
                } else if install.kind == PackageKind::Base {
                    self.apps[app].installs[index].state = InstallState::Rebooting;
                    self.apps[app].activity = Activity::Rebooting(index);
                    self.sched.push(
                        install.end,
                        Ev::InstallStep {
                            app,
                            install: index,
                        },
                    );
                    self.record(
                        t,
                        Fact::RebootStarted {
                            appliance: app,
                            package: install.package.clone(),
                        },
                    );
                } else {
                    self.install_succeeded(app, index, t);
                }
            }
            InstallState::Rebooting => self.install_succeeded(app, index, t),
            InstallState::Succeeded | InstallState::Failed => {}
        }
    }

    fn install_succeeded(&mut self, app: usize, index: usize, t: f64) {
        let package = self.apps[app].installs[index].package.clone();
        if let Some(pkg) = self.package(&package).cloned() {
            let a = &mut self.apps[app];
            match pkg.kind {
                PackageKind::Base => a.base_version = pkg.version,
                PackageKind::Product => a.version = pkg.version,
            }
        }
        let a = &mut self.apps[app];
        a.staged.remove(&package);
        a.installs[index].state = InstallState::Succeeded;
        a.installs[index].finished_at = Some(t);
        a.activity = Activity::Idle;
        self.record(
            t,
            Fact::InstallSucceeded {
                appliance: app,
                package,
            },
        );
    }

    fn install_failed(&mut self, app: usize, index: usize, t: f64, msg: String) {
        let a = &mut self.apps[app];
        let blocks =
            a.installs[index].kind == PackageKind::Base && !a.installs[index].precheck_failure;
        a.installs[index].state = InstallState::Failed;
        a.installs[index].finished_at = Some(t);
        a.installs[index].message = Some(msg.clone());
        // A failed base update leaves the appliance waiting for a person (R6); a failed
        // product update rolls back and the appliance serves its old version again.
        a.activity = if blocks {
            Activity::Failed(index)
        } else {
            Activity::Idle
        };
        let package = a.installs[index].package.clone();
        self.record(
            t,
            Fact::InstallFailed {
                appliance: app,
                package,
                message: msg,
            },
        );
    }

    /// "A person" clears the appliance: faults gone, a failed base install released (the
    /// appliance runs its old software again).
    pub(crate) fn clear_faults(&mut self, app: usize, t: f64) {
        let a = &mut self.apps[app];
        a.faults = Default::default();
        if matches!(a.activity, Activity::Failed(_)) {
            a.activity = Activity::Idle;
        }
        self.record(t, Fact::FaultsCleared { appliance: app });
        self.settle(t);
    }
}

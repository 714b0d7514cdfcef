//! Who performs the core's commands. `act` hands each command to the first executor that
//! performs it; each reports what happened, never what it means for the runbook (that is the
//! core's [`crate::upgrade::fold`]).
//!
//! Today two executors serve every command: the documented vendor API (backups, failover
//! roles) and the management extension (what the vendor shows only in its web UI). A third,
//! a person verified afterwards, is one more [`Executor`] placed before them: the core does
//! not change.

pub mod extension;
pub mod vendor;

use std::collections::BTreeMap;

use async_trait::async_trait;

use baton_crds::common::{BackupSpec, TrafficSwing};

use crate::context::Context;
use crate::members::Connected;
use crate::upgrade::command::{Command, Report};

/// The members a pass may command, by name (pair members, masters, a batch's nodes).
#[derive(Debug, Default, Clone)]
pub struct Fleet {
    members: BTreeMap<String, Connected>,
}

impl Fleet {
    /// Adds (or replaces) a member.
    pub fn add(&mut self, member: Connected) {
        self.members.insert(member.name.clone(), member);
    }

    /// A member by name.
    pub fn get(&self, name: &str) -> Option<&Connected> {
        self.members.get(name)
    }
}

/// The resource the commands serve, and where its backups and swings go.
#[derive(Debug, Clone)]
pub struct Site {
    pub namespace: String,
    /// The resource's name.
    pub name: String,
    /// `apair` or `atlas`, for the commands messages suggest.
    pub short_name: &'static str,
    pub upgrade_id: String,
    pub swing: TrafficSwing,
    pub backup: BackupSpec,
}

/// What an executor works with.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub ctx: &'a Context,
    pub site: &'a Site,
    pub fleet: &'a Fleet,
}

impl Target<'_> {
    /// The member a command names, or a report saying it is unknown.
    pub fn member(&self, name: &str) -> Result<&Connected, Report> {
        self.fleet.get(name).ok_or_else(|| {
            Report::permanent(format!("member {name} is not connected in this pass"))
        })
    }
}

/// Performs commands.
#[async_trait]
pub trait Executor: Send + Sync + std::fmt::Debug {
    /// Who this is, for logs.
    fn name(&self) -> &'static str;
    /// Whether it performs `command`.
    fn performs(&self, command: &Command) -> bool;
    /// Performs it and reports.
    async fn run(&self, command: &Command, on: &Target<'_>) -> Report;
}

/// The executors, in order of preference.
#[derive(Debug)]
pub struct Executors {
    list: Vec<Box<dyn Executor>>,
}

impl Default for Executors {
    fn default() -> Self {
        Self {
            list: vec![Box::new(vendor::VendorApi), Box::new(extension::Extension)],
        }
    }
}

impl Executors {
    /// These executors, first match wins.
    pub fn new(list: Vec<Box<dyn Executor>>) -> Self {
        Self { list }
    }

    /// Runs the commands in order. A failure stops the rest, except between installs (the
    /// nodes of a batch are independent). `AwaitInstalls` also follows the installs started
    /// before it in the same call.
    pub async fn act(&self, commands: &[Command], on: &Target<'_>) -> Vec<Report> {
        let mut reports = Vec::with_capacity(commands.len());
        let mut started: Vec<(String, String)> = Vec::new();
        for command in commands {
            let command = match command {
                Command::AwaitInstalls { installs } => {
                    let mut installs = installs.clone();
                    installs.append(&mut started);
                    Command::AwaitInstalls { installs }
                }
                other => other.clone(),
            };
            let report = match self.list.iter().find(|e| e.performs(&command)) {
                Some(executor) => {
                    tracing::debug!(executor = executor.name(), ?command, "performing");
                    executor.run(&command, on).await
                }
                None => Report::Unsupported {
                    message: format!("no executor here performs {command:?}"),
                },
            };
            if let (Command::StartInstall { member, .. }, Report::Started { id }) =
                (&command, &report)
            {
                started.push((member.clone(), id.clone()));
            }
            let stop = matches!(report, Report::Failed { .. } | Report::Unsupported { .. })
                && !matches!(command, Command::StartInstall { .. });
            reports.push(report);
            if stop {
                break;
            }
        }
        reports
    }
}

/// A client error as a report.
pub fn error_report(e: &crate::appliance::Error) -> Report {
    Report::Failed {
        transient: e.is_transient(),
        message: e.to_string(),
        reason: None,
    }
}

//! Spec pieces shared by both kinds: members and their Secrets, the traffic swing, the backup
//! destination, maintenance windows, approval gates and the upgrade strategy.
//!
//! Every string and list carries a length bound: the API server estimates the cost of each CEL
//! rule from these bounds and refuses a CRD whose rules could cost too much.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A product version such as `24.3.2`: three dot-separated numbers.
pub const VERSION_RULE: &str = "self.matches('^[0-9]{1,4}[.][0-9]{1,4}[.][0-9]{1,4}$')";
/// The message shown when [`VERSION_RULE`] fails.
pub const VERSION_MESSAGE: &str =
    "version must be a product version of three numbers, such as 24.3.2";
/// A Go-style duration (`90m`, `24h`, `1h30m`), the format `kubectl` and Flux users know.
pub const DURATION_RULE: &str = "self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')";

/// How the two members of a pair (or the two masters of a cluster) trade places.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Strategy {
    /// Backup first, then swing traffic to it; the roles stay swapped. Minimal downtime.
    #[default]
    Asynchronous,
    /// Primary first, then the backup; the roles are kept. Downtime while the primary installs.
    Synchronous,
}

/// One appliance: its unique address and the Secrets to reach it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// A short name for this appliance, used in status, events and approvals.
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("member name must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"))]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// The appliance's own https URL (its unique address, never the shared site hostname).
    #[x_kube(validation = Rule::new("isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''").message("endpoint must be an https:// URL with a host, such as https://rs-a.example.com"))]
    #[schemars(length(min = 1, max = 253))]
    pub endpoint: String,
    /// A Secret in this namespace holding the API account: keys `clientId` and `clientSecret`.
    pub credentials_secret_ref: SecretRef,
    /// A Secret holding the CA that signed the appliance's certificate (key `ca.crt` unless set).
    /// Needed: baton verifies every appliance against this CA only (never the system trust
    /// store, never without verification); a member without it is reported Stalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretKeyRef>,
    /// The IP address clients reach this appliance at, for a `Service` traffic swing: baton
    /// points the Service's EndpointSlice at it. Defaults to the endpoint's host when that is
    /// an IP address; set it when the endpoint is a DNS name or a management-only interface.
    #[x_kube(validation = Rule::new("isIP(self)").message("trafficAddress must be an IP address, such as 10.0.0.7 or 2001:db8::7"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 45))]
    pub traffic_address: Option<String>,
}

/// A reference to a Secret in the resource's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct SecretRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A reference to one key of a Secret in the resource's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key inside the Secret; each field that takes one documents its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub key: Option<String>,
}

/// How client traffic moves to the new primary.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.provider != 'Service' || has(self.service)").message("trafficSwing.service is required when the provider is Service"))]
pub struct TrafficSwing {
    /// Which mechanism moves the site address.
    #[serde(default)]
    pub provider: SwingProvider,
    /// The Service whose EndpointSlice the operator points at the primary (provider `Service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSwing>,
}

/// The traffic swing mechanisms.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SwingProvider {
    /// The appliances' shared IP: disabled on the old primary, enabled on the new one.
    #[default]
    SharedIp,
    /// A Kubernetes Service without a selector; the operator owns its EndpointSlice.
    Service,
    /// A person moves DNS or NAT and confirms with the `TrafficSwing` approval.
    Manual,
}

/// The Service a `Service` swing points at the primary.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct ServiceSwing {
    /// The Service's name, in the resource's namespace.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
}

/// Where the pre-upgrade configuration backup goes (R1: every upgrade starts with one).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Where the backup file is written; a Secret in the namespace unless set.
    #[serde(default)]
    pub destination: BackupDestination,
    /// A Secret holding the password that protects the backup (key `password` unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
}

/// Exactly one of `volume` or `secret`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(validation = Rule::new("has(self.volume) != has(self.secret)").message("backup.destination needs exactly one of volume or secret"))]
pub struct BackupDestination {
    /// A directory on a volume mounted into the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeDestination>,
    /// A Secret per backup, in the resource's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretDestination>,
}

impl Default for BackupDestination {
    fn default() -> Self {
        Self {
            volume: None,
            secret: Some(SecretDestination::default()),
        }
    }
}

/// A directory on a volume mounted into the operator's pod.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct VolumeDestination {
    /// An absolute directory path.
    #[x_kube(validation = Rule::new("self.startsWith('/')").message("backup.destination.volume.path must be an absolute path"))]
    #[schemars(length(min = 1, max = 1024))]
    pub path: String,
}

/// Backups stored as Secrets named `<namePrefix><resource>-<upgrade id>`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretDestination {
    /// Prepended to each backup Secret's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub name_prefix: Option<String>,
}

/// A recurring window in which disruptive steps may start.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindow {
    /// The days the window opens on; every day when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 7))]
    pub days: Vec<Weekday>,
    /// The local opening time, `HH:MM` (24-hour clock).
    #[x_kube(validation = Rule::new("self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')").message("maintenance window start must be HH:MM on a 24-hour clock, such as 22:00"))]
    #[schemars(length(min = 5, max = 5))]
    pub start: String,
    /// How long the window stays open, as a duration such as `4h` (at most a week).
    #[x_kube(validation = Rule::new(DURATION_RULE).message("maintenance window duration must be a duration such as 4h or 90m"))]
    #[x_kube(validation = Rule::new("!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) <= duration('168h')").message("a maintenance window lasts at most a week (168h)"))]
    #[schemars(length(min = 2, max = 32))]
    pub duration: String,
    /// The IANA time zone `start` is in, such as `Europe/Paris`; UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
}

/// Days of the week, as in maintenance windows.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// Gates that wait for a person, and the approvals that open them.
///
/// An approval names the upgrade it is for, so that an approval left in Git never opens the
/// gate of a later upgrade: `<upgrade id>/<gate>`, as the resource's status shows it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// The gates this resource's upgrades stop at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    pub gates: Vec<Gate>,
    /// Approvals, each `<upgrade id>/<gate>` (gates, `TrafficSwing` or `Retry`). The annotation
    /// `baton.dev/approve` takes the same form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new("self.all(a, a.matches('^[a-z0-9][-a-z0-9]{0,62}/(BeforeUpgrade|BeforePromotion|BeforeFormerPrimary|TrafficSwing|Retry)$'))").message("each approval must be <upgrade id>/<gate>, such as u-7f3a9c/BeforePromotion, with gate one of BeforeUpgrade, BeforePromotion, BeforeFormerPrimary, TrafficSwing, Retry"))]
    #[schemars(length(max = 32), inner(length(max = 96)))]
    pub approved: Vec<ApprovalToken>,
}

/// `<upgrade id>/<gate>`.
pub type ApprovalToken = String;

/// The points where an upgrade can wait for a person.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Gate {
    /// Before the first disruptive step.
    BeforeUpgrade,
    /// Before the upgraded backup becomes primary.
    BeforePromotion,
    /// Before the former primary is upgraded (the second maintenance window).
    BeforeFormerPrimary,
}

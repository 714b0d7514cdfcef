//! Starting and stopping a fleet: bind every listener, build the world, spawn the driver and
//! the servers, and hand back a [`Fleet`] handle with the library API.

use std::net::SocketAddr;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::auth::{ApplianceAuth, AuthSetup, Credentials, random_hex};
use crate::clock::SimClock;
use crate::connection::{ApplianceConnection, Connection};
use crate::referee::Referee;
use crate::referee::report::Report;
use crate::runtime::Shared;
use crate::world::{ApplianceState, Listening, World};
use crate::{Fault, FleetSpec, SimError, api, ops, server, tls};

/// A running fleet. Dropping it stops every listener.
#[derive(Debug)]
pub struct Fleet {
    shared: Arc<Shared>,
    connection: Connection,
    tasks: Vec<JoinHandle<()>>,
}

async fn bind(what: &str, port: u16) -> Result<TcpListener, SimError> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|source| SimError::Bind {
            what: what.to_owned(),
            source,
        })
}

fn port_of(l: &TcpListener, what: &str) -> Result<u16, SimError> {
    l.local_addr()
        .map(|a| a.port())
        .map_err(|source| SimError::Bind {
            what: what.to_owned(),
            source,
        })
}

/// Validates the spec, binds every listener on 127.0.0.1 and starts serving.
pub async fn start(spec: FleetSpec) -> Result<Fleet, SimError> {
    spec.validate()?;
    let tls = tls::generate()?;
    let mut listeners = Vec::with_capacity(spec.appliances.len());
    let mut listening = Vec::with_capacity(spec.appliances.len());
    for a in &spec.appliances {
        let l = bind(&a.name, a.port.unwrap_or(0)).await?;
        listening.push(Listening {
            port: port_of(&l, &a.name)?,
        });
        listeners.push(l);
    }
    let admin = bind("admin", 0).await?;
    let admin_port = port_of(&admin, "admin")?;

    let clock = SimClock::new(spec.time_scale);
    let world = World::new(&spec, clock, &listening)?;
    let referee = Referee::new(&spec)?;

    let mut cred_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x00c0_ffee);
    let mut auth = Vec::with_capacity(spec.appliances.len());
    let mut appliances = Vec::with_capacity(spec.appliances.len());
    for (i, a) in spec.appliances.iter().enumerate() {
        let given = a.credentials.clone();
        let full = Credentials {
            client_id: given
                .as_ref()
                .map_or_else(|| format!("{}-api", a.name), |c| c.client_id.clone()),
            client_secret: given.as_ref().map_or_else(
                || random_hex(&mut cred_rng, 16),
                |c| c.client_secret.clone(),
            ),
        };
        let readonly = Credentials {
            client_id: given
                .as_ref()
                .and_then(|c| c.readonly_client_id.clone())
                .unwrap_or_else(|| format!("{}-readonly", a.name)),
            client_secret: given
                .as_ref()
                .and_then(|c| c.readonly_client_secret.clone())
                .unwrap_or_else(|| random_hex(&mut cred_rng, 16)),
        };
        appliances.push(ApplianceConnection {
            name: a.name.clone(),
            id: world.apps[i].id.clone(),
            endpoint: world.apps[i].endpoint.clone(),
            client_id: full.client_id.clone(),
            client_secret: full.client_secret.clone(),
            readonly_client_id: readonly.client_id.clone(),
            readonly_client_secret: readonly.client_secret.clone(),
        });
        auth.push(ApplianceAuth::new(AuthSetup {
            full,
            readonly,
            ttl_s: spec.oauth.token_ttl_s,
            max_tokens: spec.oauth.max_tokens,
            per_second: spec.rate_limit.per_second,
            per_hour: spec.rate_limit.per_hour,
        }));
    }
    let reach: Vec<_> = world.apps.iter().map(|a| a.reach.subscribe()).collect();
    // The admin token guards fault injection: not derived from the (public) seed.
    let admin_token = hex::encode(rand::rng().random::<[u8; 24]>());
    let shared = Arc::new(Shared::new(
        world,
        referee,
        auth,
        ChaCha8Rng::seed_from_u64(spec.seed ^ 0x0007_0ca5),
        admin_token.clone(),
    ));

    let mut tasks = vec![tokio::spawn(shared.clone().drive())];
    for (app, (listener, rx)) in listeners.into_iter().zip(reach).enumerate() {
        let router = api::router(api::AppState {
            shared: shared.clone(),
            app,
        });
        tasks.push(tokio::spawn(server::serve(
            listener,
            tls.server.clone(),
            router,
            shared.clone(),
            Some(app),
            rx,
        )));
    }
    tasks.push(tokio::spawn(server::serve(
        admin,
        tls.server.clone(),
        crate::admin::router(shared.clone()),
        shared.clone(),
        None,
        shared.open.subscribe(),
    )));
    tracing::info!(
        appliances = spec.appliances.len(),
        time_scale = spec.time_scale,
        admin_port,
        "fleet started"
    );
    Ok(Fleet {
        connection: Connection {
            ca_pem: tls.ca_pem,
            admin_url: format!("https://127.0.0.1:{admin_port}"),
            admin_token,
            time_scale: spec.time_scale,
            appliances,
        },
        shared,
        tasks,
    })
}

impl Fleet {
    /// What clients need to reach the fleet.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The referee's snapshot now.
    pub fn report(&self) -> Report {
        ops::report(&self.shared)
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) -> Result<(), SimError> {
        ops::inject(&self.shared, &fault)
    }

    /// Clears every fault of an appliance; also "a person" releasing a failed base install.
    pub fn clear_faults(&self, appliance: &str) -> Result<(), SimError> {
        ops::clear_faults(&self.shared, appliance)
    }

    /// Simulated seconds since start.
    pub fn now_sim_s(&self) -> f64 {
        self.shared.clock.now()
    }

    /// Simulated seconds per real second.
    pub fn time_scale(&self) -> f64 {
        self.shared.clock.scale()
    }

    /// One appliance's state.
    pub fn appliance_state(&self, name: &str) -> Option<ApplianceState> {
        ops::appliance_state(&self.shared, name)
    }

    /// Every appliance's state.
    pub fn appliances(&self) -> Vec<ApplianceState> {
        ops::appliances(&self.shared)
    }

    /// External swing: point the site of `group` at `appliance` (DNS / NAT / load balancer
    /// moved outside the appliances).
    pub fn set_site_target(&self, group: &str, appliance: &str) -> Result<(), SimError> {
        ops::set_site_target(&self.shared, group, appliance)
    }

    /// The offline package file for `package_id` fetched with an appliance's download key,
    /// to upload with `POST /offline/packages`.
    pub fn package_file(&self, package_id: &str, download_key: &str) -> Result<Vec<u8>, SimError> {
        ops::package_file(&self.shared, package_id, download_key)
    }

    /// Resolves once the world changed after this call (an install phase ended, a role
    /// changed, …), to await conditions without polling in a loop.
    pub async fn changed(&self) {
        let mut rx = self.shared.changes.subscribe();
        let _ = rx.changed().await;
    }

    /// Resolves when `POST /admin/shutdown` was called.
    pub async fn shutdown_requested(&self) {
        let mut rx = self.shared.shutdown_requested.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Stops serving and returns the final report.
    pub async fn shutdown(mut self) -> Report {
        let report = self.report();
        self.stop();
        // Let aborted tasks unwind so the ports are closed when this returns.
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        report
    }

    fn stop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.shared.open.send_replace(false);
        self.shared.with(|w, _| {
            for a in &w.apps {
                a.reach.send_replace(false);
            }
        });
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop();
    }
}

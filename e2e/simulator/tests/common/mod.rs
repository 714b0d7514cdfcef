//! Helpers shared by the integration tests: start a fleet from YAML, talk to it over real
//! HTTPS (reqwest, rustls trusting only the fleet CA), and await conditions with deadlines.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use baton_sim::{ApplianceConnection, Fleet, FleetSpec};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A catalogue shared by most tests: base 5.1.0, product 24.1.0 requiring it, product
/// 24.2.0 requiring 24.1.0.
pub const CATALOGUE: &str = r#"
catalogue:
  - { id: base-5.1.0, name: "Base Software 5.1.0", kind: base, version: 5.1.0, requires: [], install_s: [600, 600] }
  - { id: product-24.1.0, name: "BeyondTrust 24.1.0", kind: product, version: 24.1.0, requires: [base-5.1.0], install_s: [900, 900] }
  - { id: product-24.2.0, name: "BeyondTrust 24.2.0", kind: product, version: 24.2.0, requires: [product-24.1.0], install_s: [900, 900] }
"#;

pub struct Sim {
    pub fleet: Fleet,
    pub http: reqwest::Client,
}

impl Sim {
    pub async fn start(yaml: &str) -> Result<Self> {
        let spec = FleetSpec::from_yaml(yaml)?;
        let fleet = baton_sim::start(spec).await?;
        let tls = fleet.connection().client_config()?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(Duration::from_secs(40))
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(Self { fleet, http })
    }

    pub fn conn(&self, name: &str) -> Result<ApplianceConnection> {
        self.fleet
            .connection()
            .appliance(name)
            .cloned()
            .with_context(|| format!("no appliance {name}"))
    }

    pub fn id(&self, name: &str) -> Result<String> {
        Ok(self.conn(name)?.id)
    }

    pub async fn token_response(
        &self,
        name: &str,
        id: &str,
        secret: &str,
    ) -> Result<reqwest::Response> {
        let c = self.conn(name)?;
        Ok(self
            .http
            .post(format!("{}/oauth2/token", c.endpoint))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?)
    }

    /// A full-access token.
    pub async fn token(&self, name: &str) -> Result<String> {
        let c = self.conn(name)?;
        self.token_for(name, &c.client_id, &c.client_secret).await
    }

    /// A read-only token.
    pub async fn token_ro(&self, name: &str) -> Result<String> {
        let c = self.conn(name)?;
        self.token_for(name, &c.readonly_client_id, &c.readonly_client_secret)
            .await
    }

    async fn token_for(&self, name: &str, id: &str, secret: &str) -> Result<String> {
        let r = self.token_response(name, id, secret).await?;
        if r.status() != StatusCode::OK {
            bail!("token request failed: {}", r.status());
        }
        let v: Value = r.json().await?;
        v["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("no access_token")
    }

    /// `GET /api/command?{query}` -> (status, body).
    pub async fn xml(&self, name: &str, token: &str, query: &str) -> Result<(StatusCode, String)> {
        let c = self.conn(name)?;
        let r = self
            .http
            .get(format!("{}/api/command?{query}", c.endpoint))
            .bearer_auth(token)
            .send()
            .await?;
        Ok((r.status(), r.text().await?))
    }

    /// A management extension request -> (status, JSON body or Null).
    pub async fn ext(
        &self,
        name: &str,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let c = self.conn(name)?;
        let mut req = self
            .http
            .request(method, format!("{}/api/management/v1{path}", c.endpoint))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status();
        let text = r.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub async fn get(&self, name: &str, token: &str, path: &str) -> Result<(StatusCode, Value)> {
        self.ext(name, token, Method::GET, path, None).await
    }

    pub async fn post(
        &self,
        name: &str,
        token: &str,
        path: &str,
        body: Value,
    ) -> Result<(StatusCode, Value)> {
        self.ext(name, token, Method::POST, path, Some(body)).await
    }

    pub async fn put(
        &self,
        name: &str,
        token: &str,
        path: &str,
        body: Value,
    ) -> Result<(StatusCode, Value)> {
        self.ext(name, token, Method::PUT, path, Some(body)).await
    }

    /// Stages then installs a package and waits (long poll) for the install to end.
    pub async fn install(&self, name: &str, token: &str, package: &str) -> Result<Value> {
        let (st, _) = self
            .post(
                name,
                token,
                &format!("/packages/{package}/stage"),
                Value::Null,
            )
            .await?;
        if st != StatusCode::OK {
            bail!("stage {package} on {name}: {st}");
        }
        let (st, inst) = self
            .post(
                name,
                token,
                "/installs",
                serde_json::json!({ "package_id": package }),
            )
            .await?;
        if st != StatusCode::ACCEPTED {
            bail!("install {package} on {name}: {st} {inst}");
        }
        let id = inst["id"].as_str().context("install id")?.to_owned();
        self.wait_install(name, &id).await
    }

    /// Long-polls an install until it is terminal, riding out the reboot of a base install
    /// (connections refused or reset) with a fresh token once it answers again.
    pub async fn wait_install(&self, name: &str, id: &str) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::time::Instant::now() > deadline {
                bail!("install {id} on {name} did not finish in time");
            }
            let Ok(token) = self.token(name).await else {
                self.settle().await;
                continue;
            };
            match self
                .get(name, &token, &format!("/installs/{id}?wait_s=5"))
                .await
            {
                Ok((StatusCode::OK, v)) if v["state"] == "succeeded" || v["state"] == "failed" => {
                    return Ok(v);
                }
                Ok(_) => {}
                Err(_) => self.settle().await,
            }
        }
    }

    /// Waits for the next world change or 20 ms, whichever is first.
    pub async fn settle(&self) {
        let _ = tokio::time::timeout(Duration::from_millis(20), self.fleet.changed()).await;
    }

    /// Awaits `cond` (re-checked on every world change and every 20 ms) for at most
    /// `timeout`.
    pub async fn eventually<F, Fut>(&self, timeout: Duration, what: &str, mut cond: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<bool>>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond().await? {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("timed out waiting for: {what}");
            }
            self.settle().await;
        }
    }
}

/// Parses an XML document with quick-xml; returns (root name, namespace attribute, every
/// element name in document order).
pub fn parse_xml(doc: &str) -> Result<(String, Option<String>, Vec<String>)> {
    use quick_xml::events::{BytesStart, Event};
    fn record(
        e: &BytesStart<'_>,
        root: &mut Option<String>,
        ns: &mut Option<String>,
        names: &mut Vec<String>,
    ) -> Result<()> {
        let name = e.name().as_ref().to_owned();
        if root.is_none() {
            *root = Some(name.clone());
            for a in e.attributes() {
                let a = a?;
                if a.key.as_ref() == "xmlns" {
                    *ns = Some(a.value.to_string());
                }
            }
        }
        names.push(name);
        Ok(())
    }
    let mut reader = quick_xml::Reader::from_str(doc);
    let (mut root, mut ns, mut names) = (None, None, Vec::new());
    let mut depth = 0usize;
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                record(&e, &mut root, &mut ns, &mut names)?;
                depth += 1;
            }
            Event::Empty(e) => record(&e, &mut root, &mut ns, &mut names)?,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        bail!("{depth} unclosed elements");
    }
    Ok((root.context("no root element")?, ns, names))
}

/// The text of the first `<tag>` in `doc` (tests read simple shapes).
pub fn xml_text(doc: &str, tag: &str) -> Option<String> {
    let start = doc.find(&format!("<{tag}"))?;
    let open_end = start + doc[start..].find('>')? + 1;
    let close = open_end + doc[open_end..].find(&format!("</{tag}>"))?;
    Some(doc[open_end..close].to_owned())
}

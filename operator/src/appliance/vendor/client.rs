//! [`VendorClient`]: Command API v1 over `GET /api/command?action=...`, and the Backup API.
//!
//! v1 is used rather than the JSON v2 because every supported appliance version has it.
//! Replies are XML; errors are an `<error>` element with HTTP 200 or 4xx.

use async_trait::async_trait;
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;
use url::Url;

use super::model::{ApiInfo, ApplianceInfo, ClientCounts, Health, SetFailoverRole};
use super::xml;
use crate::appliance::api::VendorApi;
use crate::appliance::error::{Error, Result};
use crate::appliance::session::Session;
use crate::appliance::transport::Reply;

/// Permission named in `MissingPermission` for command calls.
const PERM_COMMAND: &str = "perm_command (full access)";
const PERM_BACKUP: &str = "perm_backup";

/// Client for the documented API of one appliance.
#[derive(Debug, Clone)]
pub struct VendorClient {
    session: Session,
}

impl VendorClient {
    pub fn new(session: Session) -> Self {
        Self { session }
    }

    fn endpoint(&self) -> &Url {
        self.session.transport().endpoint()
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.endpoint().join(path).map_err(|e| Error::Config {
            detail: format!("bad URL for {path}: {e}"),
        })
    }

    /// Runs one v1 command and returns the body of a successful reply.
    async fn command(
        &self,
        action: &'static str,
        params: &[(&str, &str)],
        permission: &str,
    ) -> Result<Bytes> {
        let mut url = self.url("api/command")?;
        url.query_pairs_mut()
            .append_pair("action", action)
            .extend_pairs(params);
        let request = self
            .session
            .transport()
            .client()
            .get(url)
            .build()
            .map_err(|e| Error::Config {
                detail: format!("request for {action}: {e}"),
            })?;
        let reply = self.session.send(request).await?;
        check(action, reply, permission)
    }
}

/// Maps a reply's status: 2xx passes the body on (it may still be an `<error>`), 403 is a
/// missing permission, other statuses keep the appliance's `<error>` text when there is one.
fn check(op: &'static str, reply: Reply, permission: &str) -> Result<Bytes> {
    if reply.is_success() {
        return Ok(reply.body);
    }
    let message = xml::error_message(&reply.body).or_else(|| json_message(&reply.body));
    match (reply.status, message) {
        (403, message) => Err(Error::MissingPermission {
            permission: permission.to_owned(),
            message: message.unwrap_or_else(|| "HTTP 403".into()),
        }),
        (status, Some(message)) if status >= 500 => Err(Error::Appliance {
            code: "server_error".into(),
            message,
        }),
        (_, Some(message)) => Err(Error::Appliance {
            code: "command_error".into(),
            message,
        }),
        (status, None) => Err(Error::BadResponse {
            op,
            status: Some(status),
            detail: format!("unexpected status {status}"),
        }),
    }
}

/// Some errors (backup, token) come as the documented JSON `{"error", "message"}`.
fn json_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        error: String,
        #[serde(default)]
        message: Option<String>,
    }
    let b: Body = serde_json::from_slice(body).ok()?;
    Some(b.message.filter(|m| !m.is_empty()).unwrap_or(b.error))
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

#[async_trait]
impl VendorApi for VendorClient {
    #[instrument(skip_all, fields(endpoint = %self.endpoint(), op = "check_health"))]
    async fn health(&self) -> Result<Health> {
        xml::health(&self.command("check_health", &[], PERM_COMMAND).await?)
    }

    #[instrument(skip_all, fields(endpoint = %self.endpoint(), op = "get_appliances"))]
    async fn appliances(&self) -> Result<Vec<ApplianceInfo>> {
        xml::appliances(&self.command("get_appliances", &[], PERM_COMMAND).await?)
    }

    #[instrument(skip_all, fields(endpoint = %self.endpoint(), op = "get_connected_client_list"))]
    async fn client_counts(&self) -> Result<ClientCounts> {
        let params = [("summary_only", "1")];
        xml::client_counts(
            &self
                .command("get_connected_client_list", &params, PERM_COMMAND)
                .await?,
        )
    }

    #[instrument(skip_all, fields(endpoint = %self.endpoint(), op = "get_api_info"))]
    async fn api_info(&self) -> Result<ApiInfo> {
        xml::api_info(&self.command("get_api_info", &[], PERM_COMMAND).await?)
    }

    #[instrument(skip_all, fields(endpoint = %self.endpoint(), op = "set_failover_role", role = request.role.as_str()))]
    async fn set_failover_role(&self, request: SetFailoverRole) -> Result<()> {
        const OP: &str = "set_failover_role";
        let params = [
            ("role", request.role.as_str()),
            ("data_sync_first", flag(request.data_sync_first)),
            ("force", flag(request.force)),
        ];
        let body = self.command(OP, &params, PERM_COMMAND).await?;
        xml::success(OP, &body).map(drop)
    }

    #[instrument(skip_all, fields(endpoint = %self.endpoint(), op = "backup"))]
    async fn backup(&self, password: Option<&SecretString>) -> Result<Bytes> {
        const OP: &str = "backup";
        let url = self.url("api/backup")?;
        let client = self.session.transport().client();
        let builder = match password {
            None => client.get(url),
            // Exposed only into the request body, which is never logged.
            Some(p) => client
                .post(url)
                .json(&serde_json::json!({ "password": p.expose_secret() })),
        };
        let request = builder.build().map_err(|e| Error::Config {
            detail: format!("backup request: {e}"),
        })?;
        let reply = self.session.send(request).await?;
        let body = check(OP, reply, PERM_BACKUP)?;
        // An XML `<error>` with 200 would otherwise be stored as a backup file.
        if let Some(message) = xml::error_message(&body) {
            return Err(Error::Appliance {
                code: "command_error".into(),
                message,
            });
        }
        if body.is_empty() {
            return Err(Error::bad_response(OP, "empty backup file"));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn forbidden_is_a_missing_permission_with_the_appliance_message() {
        let err = check(
            "set_failover_role",
            reply(403, "<error>Permission denied</error>"),
            PERM_COMMAND,
        )
        .unwrap_err();
        match err {
            Error::MissingPermission {
                permission,
                message,
            } => {
                assert_eq!(permission, PERM_COMMAND);
                assert_eq!(message, "Permission denied");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_mapping() {
        let e = check("x", reply(500, "<error>busy</error>"), PERM_COMMAND).unwrap_err();
        assert!(matches!(&e, Error::Appliance { code, .. } if code == "server_error"));
        assert!(e.is_transient());
        let e = check("x", reply(400, "<error>bad role</error>"), PERM_COMMAND).unwrap_err();
        assert!(matches!(&e, Error::Appliance { message, .. } if message == "bad role"));
        assert!(!e.is_transient());
        let e = check("x", reply(502, "<html>gateway</html>"), PERM_COMMAND).unwrap_err();
        assert!(matches!(
            e,
            Error::BadResponse {
                status: Some(502),
                ..
            }
        ));
        let e = check("x", reply(404, ""), PERM_COMMAND).unwrap_err();
        assert!(matches!(
            e,
            Error::BadResponse {
                status: Some(404),
                ..
            }
        ));
        let e = check(
            "backup",
            reply(403, r#"{"error":"access_denied","message":"no backup"}"#),
            PERM_BACKUP,
        )
        .unwrap_err();
        assert!(matches!(&e, Error::MissingPermission { message, .. } if message == "no backup"));
        assert!(check("x", reply(200, "<success/>"), PERM_COMMAND).is_ok());
    }
}

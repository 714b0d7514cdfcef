//! API accounts and OAuth client-credentials tokens, per appliance. Each appliance has a
//! full-access account and a read-only one (`perm_command=read_only`, no backup permission).
//! Tokens live `token_ttl_s` real seconds; an account holds at most `max_tokens` live tokens
//! and issuing one more silently drops the oldest, as the vendor documents.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::ratelimit::{Decision, RateLimiter};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Full,
    ReadOnly,
}

impl Access {
    pub(crate) fn perm_command(self) -> &'static str {
        match self {
            Self::Full => "full_access",
            Self::ReadOnly => "read_only",
        }
    }

    pub(crate) fn perm_backup(self) -> bool {
        self == Self::Full
    }
}

#[derive(Debug)]
struct Account {
    client_id: String,
    client_secret: String,
    access: Access,
    tokens: VecDeque<(String, Instant)>,
    limiter: RateLimiter,
}

/// The accounts of one appliance.
#[derive(Debug)]
pub(crate) struct ApplianceAuth {
    accounts: Vec<Account>,
    ttl: Duration,
    max_tokens: usize,
}

/// A caller authenticated by a bearer token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    pub(crate) access: Access,
    account: usize,
}

/// Why a token request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    InvalidClient,
}

/// Credentials of one account.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

pub(crate) struct AuthSetup {
    pub(crate) full: Credentials,
    pub(crate) readonly: Credentials,
    pub(crate) ttl_s: f64,
    pub(crate) max_tokens: usize,
    pub(crate) per_second: u32,
    pub(crate) per_hour: u32,
}

impl ApplianceAuth {
    pub(crate) fn new(s: AuthSetup) -> Self {
        let account = |c: Credentials, access| Account {
            client_id: c.client_id,
            client_secret: c.client_secret,
            access,
            tokens: VecDeque::new(),
            limiter: RateLimiter::new(s.per_second, s.per_hour),
        };
        Self {
            accounts: vec![
                account(s.full, Access::Full),
                account(s.readonly, Access::ReadOnly),
            ],
            ttl: Duration::from_secs_f64(s.ttl_s),
            max_tokens: s.max_tokens,
        }
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Client credentials grant: a new token, the oldest dropped beyond the cap.
    pub(crate) fn issue(
        &mut self,
        client_id: &str,
        client_secret: &str,
        rng: &mut ChaCha8Rng,
        now: Instant,
    ) -> Result<(usize, String), TokenError> {
        let idx = self
            .accounts
            .iter()
            .position(|a| a.client_id == client_id && a.client_secret == client_secret)
            .ok_or(TokenError::InvalidClient)?;
        let token = random_hex(rng, 32);
        let ttl = self.ttl;
        let max = self.max_tokens;
        let acct = &mut self.accounts[idx];
        acct.tokens.retain(|(_, exp)| *exp > now);
        acct.tokens.push_back((token.clone(), now + ttl));
        while acct.tokens.len() > max {
            acct.tokens.pop_front();
        }
        Ok((idx, token))
    }

    /// The caller a bearer token belongs to, if it is live.
    pub(crate) fn authenticate(&self, token: &str, now: Instant) -> Option<Caller> {
        self.accounts.iter().enumerate().find_map(|(i, a)| {
            a.tokens
                .iter()
                .any(|(t, exp)| t == token && *exp > now)
                .then_some(Caller {
                    access: a.access,
                    account: i,
                })
        })
    }

    /// Counts one request of this account against its rate limit.
    pub(crate) fn rate(&mut self, account: usize, now: Instant) -> (u32, Decision) {
        match self.accounts.get_mut(account) {
            Some(a) => (a.limiter.limit(), a.limiter.check(now)),
            None => (0, Decision::Allow { remaining: 0 }),
        }
    }

    pub(crate) fn rate_caller(&mut self, caller: Caller, now: Instant) -> (u32, Decision) {
        self.rate(caller.account, now)
    }
}

pub(crate) fn random_hex(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rng.random::<u8>()).collect();
    hex::encode(raw)
}

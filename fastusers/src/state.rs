//! [`FastUsers`]: the state every fastusers route and extractor reads.

use std::sync::Arc;

use crate::backend::Backends;
use crate::manager::{TokenRevoker, UserManager};
use crate::proxy::ProxyHeaders;
use crate::user::User;

/// The user manager and the authentication backends, shared by the routes and extractors.
/// Cheap to clone.
///
/// Use it as the router's state, or implement `FromRef<YourState>` for it to keep your own
/// state (see axum's `FromRef`).
pub struct FastUsers<A: Backends> {
    inner: Arc<Inner<A>>,
}

struct Inner<A: Backends> {
    manager: UserManager<A::User>,
    backends: Arc<A>,
    requires_verification: bool,
    throttle: Option<crate::throttle::LoginThrottle>,
    proxy: ProxyHeaders,
    sensitive: crate::sensitive::SensitiveChanges,
}

/// The backends as the manager's token revoker.
struct BackendsRevoker<A>(Arc<A>);

#[async_trait::async_trait]
impl<A: Backends> TokenRevoker<A::User> for BackendsRevoker<A> {
    async fn revoke_all(&self, user: &A::User) {
        if let Err(error) = self.0.revoke_all(user).await {
            // The user's revocation time already voids these tokens: they are refused, and
            // deleted when presented or when they expire.
            tracing::warn!(user = %user.id(), error = %crate::error::Report(&error), "tokens left in their stores after a revocation");
        }
    }
}

impl<A: Backends> Clone for FastUsers<A> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<A: Backends> std::fmt::Debug for FastUsers<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastUsers")
            .field("backends", &A::NAMES)
            .field("requires_verification", &self.inner.requires_verification)
            .field("proxy", &self.inner.proxy)
            .finish_non_exhaustive()
    }
}

impl<A: Backends> FastUsers<A> {
    /// Pairs a user manager with the application's backends. The manager can then delete a
    /// user's tokens in every backend when it revokes their sessions (see
    /// [`UserManager::revoke_tokens`]).
    ///
    /// Failed logins are throttled from the start, with [`LoginThrottle::new`]'s limits
    /// counted in this process's memory: give [`with_login_throttle`](Self::with_login_throttle) other
    /// limits or a Redis store, or turn it off with
    /// [`without_login_throttle`](Self::without_login_throttle).
    ///
    /// [`LoginThrottle::new`]: crate::throttle::LoginThrottle::new
    pub fn new(manager: UserManager<A::User>, backends: A) -> Self {
        let backends = Arc::new(backends);
        let manager = manager.with_revoker(Arc::new(BackendsRevoker(backends.clone())));
        Self {
            inner: Arc::new(Inner {
                manager,
                backends,
                requires_verification: false,
                throttle: Some(crate::throttle::LoginThrottle::new()),
                proxy: ProxyHeaders::Ignored,
                sensitive: crate::sensitive::SensitiveChanges::off(),
            }),
        }
    }

    /// Requires a verified email to log in (400 `LOGIN_USER_NOT_VERIFIED`) and to use the
    /// users routes (403), as the reference's `requires_verification=True`. Default: false.
    pub fn requires_verification(self, required: bool) -> Self {
        self.configure("requires_verification", |inner| {
            inner.requires_verification = required;
        })
    }

    /// Throttles failed logins with this throttle (429 with `Retry-After`); see
    /// [`crate::throttle`]. Default: [`LoginThrottle::new()`](crate::throttle::LoginThrottle::new),
    /// 5 failures per account and 100 per client address in 15 minutes, counted in memory;
    /// with several instances, give it a Redis store so that they share the counts.
    pub fn with_login_throttle(self, throttle: crate::throttle::LoginThrottle) -> Self {
        self.configure("with_login_throttle", |inner| {
            inner.throttle = Some(throttle)
        })
    }

    /// Turns the login throttle off: no login is ever refused for the failures before it, as in
    /// fastapi-users. Only for an application that limits logins elsewhere (a proxy, a web
    /// application firewall): without any limit, passwords can be guessed at the speed of the
    /// server (OWASP ASVS 2.2.1).
    pub fn without_login_throttle(self) -> Self {
        self.configure("without_login_throttle", |inner| inner.throttle = None)
    }

    /// The login throttle; `None` after [`without_login_throttle`](Self::without_login_throttle).
    pub fn login_throttle(&self) -> Option<&crate::throttle::LoginThrottle> {
        self.inner.throttle.as_ref()
    }

    /// Whether the application is behind a proxy that sets `X-Forwarded-For`,
    /// `X-Forwarded-Proto` and `X-Forwarded-Host`: then fastusers takes the client's address
    /// (the login throttle), scheme and host (the OAuth redirect URI, the cookie transport's
    /// CSRF check) from them; otherwise it ignores them, since any client can send them. See
    /// [`ProxyHeaders`](crate::ProxyHeaders). Default: false.
    pub fn behind_proxy(self, behind_proxy: bool) -> Self {
        self.configure("behind_proxy", |inner| {
            inner.proxy = ProxyHeaders::behind_proxy(behind_proxy);
        })
    }

    /// What a sensitive change through `PATCH /users/me` (a new email or a new password)
    /// requires: a recent login, the current password, either, or nothing more than any other
    /// update (the default, as in fastapi-users). See [`SensitiveChanges`](crate::SensitiveChanges).
    pub fn sensitive_changes(self, rule: crate::sensitive::SensitiveChanges) -> Self {
        self.configure("sensitive_changes", |inner| inner.sensitive = rule)
    }

    /// What a sensitive change requires.
    pub fn sensitive_changes_rule(&self) -> crate::sensitive::SensitiveChanges {
        self.inner.sensitive
    }

    /// How the client's address, scheme and host are read.
    pub fn proxy(&self) -> ProxyHeaders {
        self.inner.proxy
    }

    /// Changes a setting; settings are made before the state is shared.
    fn configure(self, setting: &str, change: impl FnOnce(&mut Inner<A>)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|_| {
            panic!("FastUsers::{setting} must be called before the state is cloned")
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The user manager.
    pub fn manager(&self) -> &UserManager<A::User> {
        &self.inner.manager
    }

    /// The backends.
    pub fn backends(&self) -> &A {
        &self.inner.backends
    }

    /// Whether verification is required.
    pub fn verification_required(&self) -> bool {
        self.inner.requires_verification
    }
}

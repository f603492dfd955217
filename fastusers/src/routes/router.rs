//! [`Routes`]: what every fastusers router function returns. An axum [`Router`] that also
//! records each route it holds, with its description where it has one, so that the OpenAPI
//! document (the `openapi` feature) is built from exactly what was mounted.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::backend::Backends;
use crate::state::FastUsers;

/// A route's description: the closure that describes it, with the `openapi` feature.
#[cfg(feature = "openapi")]
pub(crate) type Doc<A> = Option<crate::openapi::Describe<A>>;
/// A route's description, whose closure is compiled with the `openapi` feature only.
#[cfg(not(feature = "openapi"))]
pub(crate) type Doc<A> = Option<std::marker::PhantomData<fn() -> A>>;

/// A route's description, declared beside its handler in the module that owns the route:
/// `describe!(|cx| cx.op(...)...)` is, with the `openapi` feature, the closure that builds the
/// route's operation from the document's [`Context`](crate::openapi::Context) (with the
/// helpers of `openapi::prelude` in scope); without it, the closure is not compiled.
macro_rules! describe {
    (|$cx:ident| $body:expr) => {{
        #[cfg(feature = "openapi")]
        let doc = ::core::option::Option::Some($crate::openapi::describe(move |$cx| {
            #[allow(unused_imports)]
            use $crate::openapi::prelude::*;
            $body
        }));
        #[cfg(not(feature = "openapi"))]
        let doc = ::core::option::Option::Some(::core::marker::PhantomData);
        doc
    }};
}
pub(crate) use describe;

/// One route of a [`Routes`].
struct Entry<A> {
    /// `None` for a route added with [`Routes::route`], whose methods cannot be seen.
    method: Option<Method>,
    path: String,
    doc: Doc<A>,
}

impl<A> Clone for Entry<A> {
    fn clone(&self) -> Self {
        Self {
            method: self.method.clone(),
            path: self.path.clone(),
            doc: self.doc.clone(),
        }
    }
}

/// A route a [`Routes`] holds, as [`Routes::list`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MountedRoute {
    /// The method; `None` for a route added with [`Routes::route`], whose method router
    /// cannot be seen into.
    pub method: Option<Method>,
    /// The full path, as axum matches it (`/users/{id}`).
    pub path: String,
}

/// An axum router that knows its routes: what every fastusers router function returns
/// (`Auth::jwt_router()`, `FastUsers::<Auth>::users_router()`, ...).
///
/// Nest and merge fastusers' routers and add the application's own routes as with axum's
/// [`Router`], then turn it into one with [`into_router`](Self::into_router) (or `.into()`)
/// and give it the state. With the `openapi` feature, [`openapi`](Self::openapi) builds the
/// OpenAPI document of exactly the routes mounted, at the paths mounted.
///
/// ```
/// # use fastusers::prelude::*;
/// # #[derive(User, Clone, Debug)]
/// # pub struct User { pub id: uuid::Uuid, pub email: String, pub hashed_password: String,
/// #     pub is_active: bool, pub is_superuser: bool, pub is_verified: bool }
/// # fastusers::auth_backends! { pub struct Auth for User { jwt: BearerTransport, JwtStrategy; } }
/// use axum::routing::get;
/// use fastusers::Routes;
///
/// async fn hello(user: ActiveUser<Auth>) -> String {
///     format!("Hello {}!", user.email)
/// }
///
/// let routes = Routes::new()
///     .nest("/auth/jwt", Auth::jwt_router())
///     .nest("/users", FastUsers::<Auth>::users_router())
///     .route("/hello", get(hello));
/// let paths: Vec<String> = routes.list().into_iter().map(|r| r.path).collect();
/// assert!(paths.contains(&"/auth/jwt/login".to_owned()));
/// let router: axum::Router<FastUsers<Auth>> = routes.into_router();
/// # let _ = router;
/// ```
pub struct Routes<A: Backends, S = FastUsers<A>> {
    router: Router<S>,
    entries: Vec<Entry<A>>,
}

impl<A: Backends, S: Clone> Clone for Routes<A, S> {
    fn clone(&self) -> Self {
        Self {
            router: self.router.clone(),
            entries: self.entries.clone(),
        }
    }
}

impl<A: Backends, S> std::fmt::Debug for Routes<A, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let routes: Vec<String> = self
            .entries
            .iter()
            .map(|e| match &e.method {
                Some(method) => format!("{method} {}", e.path),
                None => format!("* {}", e.path),
            })
            .collect();
        f.debug_struct("Routes").field("routes", &routes).finish()
    }
}

impl<A: Backends, S: Clone + Send + Sync + 'static> Default for Routes<A, S> {
    fn default() -> Self {
        Self::new()
    }
}

/// Joins a prefix and a route path as axum's `nest` does.
fn join(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match path {
        "/" | "" if prefix.is_empty() => "/".to_owned(),
        "/" | "" => prefix.to_owned(),
        _ => format!("{prefix}{path}"),
    }
}

impl<A: Backends, S: Clone + Send + Sync + 'static> Routes<A, S> {
    /// No routes.
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            entries: Vec::new(),
        }
    }

    /// Nests `routes` at `prefix`, as axum's [`Router::nest`] (and with its panics: `prefix`
    /// must start with `/` and not be `/`).
    #[track_caller]
    pub fn nest(mut self, prefix: &str, routes: Routes<A, S>) -> Self {
        self.router = self.router.nest(prefix, routes.router);
        self.entries
            .extend(routes.entries.into_iter().map(|entry| Entry {
                path: join(prefix, &entry.path),
                ..entry
            }));
        self
    }

    /// Merges `routes` into these, as axum's [`Router::merge`].
    #[track_caller]
    pub fn merge(mut self, routes: Routes<A, S>) -> Self {
        self.router = self.router.merge(routes.router);
        self.entries.extend(routes.entries);
        self
    }

    /// Adds one of the application's own routes, as axum's [`Router::route`]. It is not in
    /// the OpenAPI document: add it with
    /// [`route_documented`](Self::route_documented) to describe it.
    #[track_caller]
    pub fn route(mut self, path: &str, method_router: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, method_router);
        self.entries.push(Entry {
            method: None,
            path: path.to_owned(),
            doc: None,
        });
        self
    }

    /// Adds a route of the application with its description: `method` and `path` served by
    /// `handler`, and `describe` building its operation from the document's
    /// [`Context`](crate::openapi::Context).
    ///
    /// ```
    /// # use fastusers::prelude::*;
    /// # #[derive(User, Clone, Debug)]
    /// # pub struct User { pub id: uuid::Uuid, pub email: String, pub hashed_password: String,
    /// #     pub is_active: bool, pub is_superuser: bool, pub is_verified: bool }
    /// # fastusers::auth_backends! { pub struct Auth for User { jwt: BearerTransport, JwtStrategy; } }
    /// use axum::http::Method;
    /// use fastusers::Routes;
    /// use fastusers::openapi::schema;
    ///
    /// async fn hello(user: ActiveUser<Auth>) -> String {
    ///     format!("Hello {}!", user.email)
    /// }
    ///
    /// let routes: Routes<Auth> = Routes::new().route_documented(Method::GET, "/hello", hello, |cx| {
    ///     cx.op("hello", "Say hello")
    ///         .requires_user()
    ///         .json_response(200, "A greeting.", schema::string())
    /// });
    /// # let _ = routes;
    /// ```
    #[cfg(feature = "openapi")]
    #[track_caller]
    pub fn route_documented<H, T, F>(
        self,
        method: Method,
        path: &str,
        handler: H,
        describe: F,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
        F: Fn(&mut crate::openapi::Context<'_, A>) -> crate::openapi::Op + Send + Sync + 'static,
    {
        self.add(
            method,
            path,
            handler,
            Some(crate::openapi::describe(describe)),
        )
    }

    /// Adds `handler` at `method` and `path` with its description: how fastusers' own routes
    /// are declared, with [`describe!`].
    #[track_caller]
    pub(crate) fn add<H, T>(mut self, method: Method, path: &str, handler: H, doc: Doc<A>) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| panic!("axum cannot route the method {method}"));
        self.router = self.router.route(path, on(filter, handler));
        self.entries.push(Entry {
            method: Some(method),
            path: path.to_owned(),
            doc,
        });
        self
    }

    /// Changes the router without changing its routes (to add a layer).
    #[cfg(feature = "oauth")]
    pub(crate) fn map_router(mut self, change: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = change(self.router);
        self
    }

    /// Every route, in the order added, with its method and full path: what is mounted,
    /// described or not (a test can check it against the OpenAPI document).
    pub fn list(&self) -> Vec<MountedRoute> {
        self.entries
            .iter()
            .map(|entry| MountedRoute {
                method: entry.method.clone(),
                path: entry.path.clone(),
            })
            .collect()
    }

    /// The axum router, to give the state: `routes.into_router().with_state(users)`.
    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

#[cfg(feature = "openapi")]
impl<A, S> Routes<A, S>
where
    A: crate::openapi::OpenApiBackends,
    A::User: crate::openapi::OpenApiUser,
{
    /// The OpenAPI document of these routes, as mounted, for the application's backends and
    /// settings (verification required, device tokens): every described route, and the
    /// schemas and security schemes they use. The application's routes added with
    /// [`route`](Self::route) are not in it.
    pub fn openapi(&self, users: &FastUsers<A>) -> utoipa::openapi::OpenApi {
        let device_tokens = users
            .login_throttle()
            .and_then(crate::throttle::LoginThrottle::devices)
            .is_some();
        crate::openapi::document(
            users.backends(),
            users.verification_required(),
            device_tokens,
            users.sensitive_changes_rule(),
            self.entries.iter().filter_map(|entry| {
                Some((
                    entry.method.as_ref()?,
                    entry.path.as_str(),
                    entry.doc.as_ref()?,
                ))
            }),
        )
    }
}

impl<A: Backends, S> From<Routes<A, S>> for Router<S> {
    fn from(routes: Routes<A, S>) -> Self {
        routes.router
    }
}

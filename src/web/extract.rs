//! The one place roles are checked: `Staff` (any signed-in user) and `Admin` (account
//! executives) load the user from the database on every request, so a disabled user or a
//! changed role takes effect at once. `Visitor` is for pages without sign-in.

use std::ops::Deref;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::page::{PageCtx, PageUser};
use super::session;
use crate::db::models::User;
use crate::domain::accounts::users::Role;
use crate::domain::Actor;
use crate::error::AppError;
use crate::AppState;

/// The client address: the peer, or — when the operator says the portal sits behind its own
/// proxy — the last X-Forwarded-For entry, the one that proxy appended (earlier entries are
/// whatever the client sent and are never trusted).
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> String {
    if trust_proxy {
        if let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
        {
            return ip.to_string();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state missing".into()))
}

/// A request from someone who may not be signed in.
pub struct Visitor {
    pub ctx: PageCtx,
    pub session: Session,
    pub ip: String,
}

impl Visitor {
    fn build(req: &HttpRequest, st: &AppState, user: Option<&User>) -> Result<Self, AppError> {
        let session = req.get_session();
        let csrf = session::csrf_token(&session)?;
        // JSON endpoints (polled by pages) never consume the messages meant for the next page.
        let flashes = if req.path().ends_with(".json") {
            Vec::new()
        } else {
            session::take_flashes(&session)
        };
        let ctx = PageCtx {
            user: user.map(|u| PageUser {
                id: u.id,
                email: u.email.clone(),
                role: u.role(),
            }),
            csrf,
            flashes,
            tz: st.config.time_zone,
            path: req.path().to_string(),
        };
        if !st.config.trust_proxy {
            st.proxy_signs.note(req.headers().contains_key("x-forwarded-for"));
        }
        Ok(Visitor {
            ctx,
            session,
            ip: client_ip(req, st.config.trust_proxy),
        })
    }
}

impl FromRequest for Visitor {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(state(req).and_then(|st| Visitor::build(req, &st, None)))
    }
}

/// A signed-in, enabled user with the page context built for them.
pub struct Signed {
    pub user: User,
    pub ctx: PageCtx,
    pub session: Session,
    pub ip: String,
}

impl Signed {
    /// The audit identity of this request.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            label: self.user.email.clone(),
            ip: Some(self.ip.clone()),
        }
    }

    pub fn flash(&self, kind: &str, text: impl Into<String>) {
        session::flash(&self.session, kind, text);
    }

    /// A message about the element with id `at`, shown there and at the top.
    pub fn flash_at(&self, kind: &str, text: impl Into<String>, at: &str) {
        session::flash_at(&self.session, kind, text, Some(at));
    }

    /// Flashes `ok` on success, or the error when the user can fix it (a validation or
    /// conflict message) and the page should simply be shown again; other errors propagate.
    pub fn flash_result<T>(
        &self,
        result: Result<T, AppError>,
        ok: impl FnOnce(T) -> String,
    ) -> Result<(), AppError> {
        match result {
            Ok(v) => self.flash("ok", ok(v)),
            Err(e) => self.flash_error(e)?,
        }
        Ok(())
    }

    /// Flashes an error the user can fix (`AppError::is_user_fixable`) for the next page;
    /// any other error is handed back to propagate.
    pub fn flash_error(&self, e: AppError) -> Result<(), AppError> {
        if !e.is_user_fixable() {
            return Err(e);
        }
        self.flash("error", e.to_string());
        Ok(())
    }
}

async fn load_signed(req: HttpRequest) -> Result<Signed, AppError> {
    let st = state(&req)?;
    let session = req.get_session();
    let id = session::user_id(&session).ok_or(AppError::Unauthenticated)?;
    let user = st
        .db
        .read(move |conn| {
            crate::domain::accounts::users::find(conn, id)
                .map(Some)
                .or_else(|e| match e {
                    AppError::NotFound => Ok(None),
                    other => Err(other),
                })
        })
        .await?;
    // Disabled users, and sessions from before a password change, end here.
    let epoch = session::epoch(&session);
    let Some(user) = user.filter(|u| !u.disabled && epoch == Some(u.session_epoch)) else {
        session::sign_out(&session);
        return Err(AppError::Unauthenticated);
    };
    let v = Visitor::build(&req, &st, Some(&user))?;
    Ok(Signed {
        user,
        ctx: v.ctx,
        session: v.session,
        ip: v.ip,
    })
}

/// The page context of whoever sent `req`: the signed-in user's (menu included) when the
/// session holds one that may still sign in, else a visitor's (the error page uses it).
pub async fn page_ctx(req: &HttpRequest) -> PageCtx {
    if let Ok(signed) = load_signed(req.clone()).await {
        return signed.ctx;
    }
    match state(req).and_then(|st| Visitor::build(req, &st, None)) {
        Ok(v) => v.ctx,
        Err(_) => PageCtx::anonymous(),
    }
}

/// Any signed-in user (merchant staff or account executive).
pub struct Staff(pub Signed);

impl FromRequest for Staff {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { load_signed(req).await.map(Staff) })
    }
}

impl Deref for Staff {
    type Target = Signed;
    fn deref(&self) -> &Signed {
        &self.0
    }
}

/// An account executive; merchant staff get 403.
pub struct Admin(pub Signed);

impl FromRequest for Admin {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let s = load_signed(req).await?;
            if s.user.role() != Role::Admin {
                return Err(AppError::Forbidden(
                    "This page is for account executives only.".into(),
                ));
            }
            Ok(Admin(s))
        })
    }
}

/// An account executive's form: the role is checked before the body is read, so merchant
/// staff get 403 whatever they sent (their form is never parsed). As a handler argument:
/// `AdminForm(admin, form): AdminForm<MyForm>`.
pub struct AdminForm<T>(pub Admin, pub web::Form<T>);

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for AdminForm<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut body = payload.take();
        Box::pin(async move {
            let admin = Admin::from_request(&req, &mut Payload::None).await?;
            let form = web::Form::<T>::from_request(&req, &mut body).await?;
            Ok(AdminForm(admin, form))
        })
    }
}

impl Deref for Admin {
    type Target = Signed;
    fn deref(&self) -> &Signed {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::client_ip;
    use actix_web::test::TestRequest;

    #[test]
    fn behind_a_proxy_the_last_forwarded_hop_counts_and_spoofed_ones_do_not() {
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "203.0.113.9, 198.51.100.7"))
            .peer_addr("10.0.0.2:4000".parse().unwrap())
            .to_http_request();
        assert_eq!(
            client_ip(&req, true),
            "198.51.100.7",
            "the hop our proxy appended"
        );
        assert_eq!(
            client_ip(&req, false),
            "10.0.0.2",
            "without a proxy the header is ignored"
        );
        let junk = TestRequest::default()
            .insert_header(("x-forwarded-for", "not-an-ip"))
            .peer_addr("10.0.0.2:4000".parse().unwrap())
            .to_http_request();
        assert_eq!(client_ip(&junk, true), "10.0.0.2");
    }
}

//! The one error type of the portal. Every variant carries a message a user can act on;
//! internal details are logged (never secrets) and shown only as a generic message (the HTTP
//! answer of each variant, its status and error page, is `web::error_page`).

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Conflict(String),
    #[error("page not found")]
    NotFound,
    #[error("please sign in")]
    Unauthenticated,
    /// A machine caller (API user) with bad credentials: 401, no redirect.
    #[error("{0}")]
    ApiUnauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Csrf(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    /// Too much work in flight right now (the argon2 bound): 503 with Retry-After.
    #[error("{message}")]
    Busy { message: String, retry_after_secs: u64 },
    #[error("{0}")]
    Internal(String),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            other => AppError::Internal(format!("database error: {other}")),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template error: {e}"))
    }
}

impl AppError {
    /// An error the user can fix by changing what they typed or chose (a validation message
    /// or a conflict with what exists): the page is shown again with the message, never a
    /// failure page.
    pub fn is_user_fixable(&self) -> bool {
        matches!(self, AppError::Validation(_) | AppError::Conflict(_))
    }
}

pub type AppResult<T> = Result<T, AppError>;

//! Errors of the ClickBank REST client.

/// Recognise ClickBank's (or a proxy's) rate-limit wording in a 403 text.
pub fn is_rate_limit_text(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "rate limit",
        "too many requests",
        "throttl",
        "request limit",
        "quota",
    ]
    .iter()
    .any(|needle| t.contains(needle))
}

fn shown(text: &str) -> &str {
    if text.trim().is_empty() {
        "(no explanation given)"
    } else {
        text
    }
}

/// A failed ClickBank call. Texts are ClickBank's own plain-text bodies, verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClickBankError {
    /// 403: bad credentials, missing role, not found, inactive, or a refused action.
    #[error("ClickBank refused the request (403): {}", shown(text))]
    Forbidden {
        /// ClickBank's text, e.g. `Subscription already canceled`.
        text: String,
    },
    /// 403 whose text says the rate limit was hit.
    #[error("ClickBank rate limit reached (403): {}", shown(text))]
    RateLimited {
        /// ClickBank's text.
        text: String,
    },
    /// 400: a parameter ClickBank did not accept.
    #[error("ClickBank rejected the request (400): {}", shown(text))]
    BadRequest {
        /// ClickBank's text.
        text: String,
    },
    /// Any other unexpected HTTP status (5xx included).
    #[error("ClickBank answered HTTP {code}: {}", shown(text))]
    Status {
        /// HTTP status code.
        code: u16,
        /// Body text.
        text: String,
    },
    /// No answer within the configured timeout.
    #[error("ClickBank did not answer in time")]
    Timeout,
    /// The connection failed.
    #[error("could not reach ClickBank: {detail}")]
    Connection {
        /// What failed.
        detail: String,
    },
    /// The answer could not be read.
    #[error("could not read ClickBank's answer: {detail}")]
    Decode {
        /// What was wrong.
        detail: String,
    },
    /// The request was refused before sending (bad configuration or argument).
    #[error("invalid ClickBank request: {detail}")]
    InvalidRequest {
        /// What was wrong.
        detail: String,
    },
}

impl ClickBankError {
    /// Build the error of a non-success answer.
    pub fn from_status(code: u16, text: String) -> Self {
        match code {
            403 if is_rate_limit_text(&text) => ClickBankError::RateLimited { text },
            429 => ClickBankError::RateLimited { text },
            403 => ClickBankError::Forbidden { text },
            400 => ClickBankError::BadRequest { text },
            _ => ClickBankError::Status { code, text },
        }
    }

    /// ClickBank's text, when the error carries one.
    pub fn text(&self) -> Option<&str> {
        match self {
            ClickBankError::Forbidden { text }
            | ClickBankError::RateLimited { text }
            | ClickBankError::BadRequest { text }
            | ClickBankError::Status { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClickBankError::Forbidden { .. } | ClickBankError::RateLimited { .. } => Some(403),
            ClickBankError::BadRequest { .. } => Some(400),
            ClickBankError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True for a rate-limit refusal.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, ClickBankError::RateLimited { .. })
    }

    /// Worth retrying a read: 5xx, timeouts, connection errors and rate limits.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClickBankError::Status { code, .. } => *code >= 500,
            ClickBankError::Timeout
            | ClickBankError::Connection { .. }
            | ClickBankError::RateLimited { .. } => true,
            _ => false,
        }
    }

    /// The request may or may not have been applied by ClickBank (no clear answer).
    pub fn is_ambiguous(&self) -> bool {
        match self {
            ClickBankError::Status { code, .. } => *code >= 500,
            ClickBankError::Timeout | ClickBankError::Connection { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        assert!(
            ClickBankError::from_status(403, "Too many requests: rate limit exceeded".into())
                .is_rate_limited()
        );
        let e = ClickBankError::from_status(403, "Subscription already canceled".into());
        assert_eq!(e.text(), Some("Subscription already canceled"));
        assert_eq!(
            e.to_string(),
            "ClickBank refused the request (403): Subscription already canceled"
        );
        assert!(!e.is_retryable());
        assert!(ClickBankError::from_status(503, String::new()).is_retryable());
        assert!(matches!(
            ClickBankError::from_status(400, "bad".into()),
            ClickBankError::BadRequest { .. }
        ));
        assert!(ClickBankError::Timeout.is_ambiguous());
    }
}

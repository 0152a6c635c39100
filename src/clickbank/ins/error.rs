//! Errors of the INS codec, worded for merchants.

/// Why an Instant Notification was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsError {
    /// Not `{"notification": "...", "iv": "..."}`.
    #[error("body is not an INS envelope")]
    NotEnvelope,
    /// A field of the envelope is not base64.
    #[error("{field} is not valid base64")]
    BadBase64 {
        /// `notification` or `iv`.
        field: &'static str,
    },
    /// The IV is not 16 bytes.
    #[error("iv must decode to 16 bytes")]
    BadIv {
        /// Bytes it decoded to.
        len: usize,
    },
    /// The ciphertext is not whole AES blocks (cut short or altered).
    #[error("damaged notification: the ciphertext is {len} bytes, not a whole number of 16-byte blocks")]
    CiphertextLength {
        /// Ciphertext length in bytes.
        len: usize,
    },
    /// Decryption gave garbage: another secret key was used, or the data was changed.
    #[error("wrong secret key or damaged notification")]
    WrongKeyOrDamaged,
    /// Decrypted cleanly, but the plaintext is not JSON.
    #[error("decrypted notification is not JSON: {detail}")]
    NotJson {
        /// Parser message.
        detail: String,
    },
    /// JSON, but not shaped like a notification.
    #[error("decrypted notification is not a valid INS notification: {detail}")]
    InvalidNotification {
        /// What was wrong.
        detail: String,
    },
    /// A legacy (INS 4.0 and older) form post is unreadable.
    #[error("legacy notification is not a form post: {detail}")]
    LegacyForm {
        /// What was wrong.
        detail: String,
    },
    /// A legacy post without `cverify`.
    #[error("legacy notification has no cverify field")]
    MissingCverify,
    /// A legacy post whose `cverify` does not match.
    #[error("legacy notification failed verification: wrong secret key or altered fields")]
    CverifyMismatch,
}

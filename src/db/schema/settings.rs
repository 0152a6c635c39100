//! Settings account executives keep in the portal.

diesel::table! {
    /// The label an account executive gives a ClickBank ticket reason code (the words their
    /// ClickBank portal shows); a code without one shows as documented or by its number.
    reason_labels (kind, code) {
        kind -> Text,
        code -> Text,
        label -> Text,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

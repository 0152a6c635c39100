//! The words staff see for ClickBank's ticket reason codes. ClickBank's reference names only
//! refund `.7`, `.8` and `returned` (`clickbank::requests::reasons::documented`); every other
//! code shows as "ClickBank reason N" until an account executive gives it the label their
//! ClickBank portal shows (Admin → Reason labels, audited). Tickets, service requests and audit
//! entries keep the code; the label is for people.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use crate::clickbank::requests::reasons;
use crate::db::schema::reason_labels;
use crate::db::text::text_enum;
use crate::db::DbConn;
use crate::domain::{audit, Actor};
use crate::error::AppError;

/// A label is at most this long.
pub const MAX_LABEL_CHARS: usize = 80;

text_enum! {
    /// Which ticket a reason code is for.
    pub enum ReasonKind {
        Refund = "refund",
        Cancel = "cancel",
    }
}

impl ReasonKind {
    /// ClickBank's codes of this kind, in the order the forms offer them.
    pub fn codes(self) -> &'static [&'static str] {
        match self {
            ReasonKind::Refund => reasons::REFUND_CODES,
            ReasonKind::Cancel => reasons::CANCEL_CODES,
        }
    }

    /// The kind in words.
    pub fn title(self) -> &'static str {
        match self {
            ReasonKind::Refund => "Refund reasons",
            ReasonKind::Cancel => "Cancellation reasons",
        }
    }

    /// The code as ClickBank spells it, when it is one of this kind's.
    fn known(self, code: &str) -> Option<&'static str> {
        self.codes().iter().copied().find(|c| *c == code)
    }
}

/// One reason code as a form offers it.
#[derive(Debug, Clone)]
pub struct ReasonChoice {
    pub kind: ReasonKind,
    pub code: &'static str,
    /// What ClickBank's reference calls it, if anything.
    pub documented: Option<&'static str>,
    /// What an account executive named it.
    pub custom: Option<String>,
    /// Who named it, and when.
    pub updated: Option<(String, NaiveDateTime)>,
    /// What staff see: the custom label, else the documented one, else "ClickBank reason N".
    pub label: String,
}

impl ReasonChoice {
    /// The part of the code after its prefix ("7", "returned").
    pub fn suffix(&self) -> &str {
        reasons::suffix(self.code)
    }
}

/// The codes of `kind` with their labels, in form order.
pub fn choices(conn: &mut DbConn, kind: ReasonKind) -> Result<Vec<ReasonChoice>, AppError> {
    let set: Vec<(String, String, String, NaiveDateTime)> = reason_labels::table
        .filter(reason_labels::kind.eq(kind))
        .select((
            reason_labels::code,
            reason_labels::label,
            reason_labels::updated_by,
            reason_labels::updated_at,
        ))
        .load(conn)?;
    Ok(kind
        .codes()
        .iter()
        .map(|&code| {
            let row = set.iter().find(|r| r.0 == code);
            let custom = row.map(|r| r.1.clone());
            ReasonChoice {
                kind,
                code,
                documented: reasons::documented(code),
                label: custom.clone().unwrap_or_else(|| reasons::default_label(code)),
                custom,
                updated: row.map(|r| (r.2.clone(), r.3)),
            }
        })
        .collect())
}

/// The label staff see for `code` of `kind` (the code is checked by the caller).
pub fn label(conn: &mut DbConn, kind: ReasonKind, code: &str) -> Result<String, AppError> {
    let custom: Option<String> = reason_labels::table
        .filter(reason_labels::kind.eq(kind))
        .filter(reason_labels::code.eq(code))
        .select(reason_labels::label)
        .first(conn)
        .optional()?;
    Ok(custom.unwrap_or_else(|| reasons::default_label(code)))
}

/// Gives `code` of `kind` the label `typed` (an empty one goes back to the default),
/// audited with the label before and after. Returns the label staff now see.
pub fn set(
    conn: &mut DbConn,
    actor: &Actor,
    kind: ReasonKind,
    code: &str,
    typed: &str,
) -> Result<String, AppError> {
    let code = kind.known(code).ok_or_else(|| {
        AppError::Validation(format!("`{code}` is not a ClickBank {} code.", kind.as_str()))
    })?;
    let typed = typed.split_whitespace().collect::<Vec<_>>().join(" ");
    if typed.chars().count() > MAX_LABEL_CHARS {
        return Err(AppError::Validation(format!(
            "A reason label is at most {MAX_LABEL_CHARS} characters."
        )));
    }
    conn.transaction(|c| {
        let before = label(c, kind, code)?;
        let mine = reason_labels::table
            .filter(reason_labels::kind.eq(kind))
            .filter(reason_labels::code.eq(code));
        diesel::delete(mine).execute(c)?;
        if !typed.is_empty() {
            diesel::insert_into(reason_labels::table)
                .values((
                    reason_labels::kind.eq(kind),
                    reason_labels::code.eq(code),
                    reason_labels::label.eq(&typed),
                    reason_labels::updated_at.eq(crate::domain::now()),
                    reason_labels::updated_by.eq(&actor.label),
                ))
                .execute(c)?;
        }
        let after = label(c, kind, code)?;
        audit::record(
            c,
            actor,
            "reason_label.set",
            &format!("reason:{code}"),
            json!({ "kind": kind.as_str(), "code": code, "before": before, "after": after }),
        )?;
        Ok(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_documented_codes_have_words_of_their_own() {
        assert_eq!(
            reasons::default_label("ticket.type.refund.7"),
            "Duplicate purchase"
        );
        assert_eq!(reasons::default_label("ticket.type.refund.8"), "Other");
        assert_eq!(reasons::default_label("ticket.type.refund.returned"), "Returned");
        assert_eq!(
            reasons::default_label("ticket.type.refund.3"),
            "ClickBank reason 3"
        );
        assert_eq!(
            reasons::default_label("ticket.type.cancel.1"),
            "ClickBank reason 1"
        );
        assert!(ReasonKind::Refund.known("ticket.type.cancel.1").is_none());
    }
}

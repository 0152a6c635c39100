//! Types stored as their text in a `TEXT` column, on both backends and through [`DbConn`]
//! (diesel's `MultiConnection` backend): the statuses the CRM owns (closed enums: a stored
//! value they do not know is a read error) and ClickBank's transaction type (an open
//! vocabulary: an unknown value is kept).
//!
//! A type says how it is written and read ([`StoredText`]); [`stored_as_text!`] gives it
//! diesel's `AsExpression`, `ToSql`, `FromSql` and `Queryable` for `Text`.
//!
//! [`DbConn`]: crate::db::DbConn

/// How a value is written to and read from its text column. The text never changes
/// spelling: it is what rows written by every earlier version hold.
pub trait StoredText: Sized {
    fn stored(&self) -> &str;
    /// The value of stored text; an error names the text when it is not one this version knows.
    fn from_stored(text: &str) -> Result<Self, String>;
}

/// Declares a closed enum stored as its text: `ALL`, `as_str`, `parse`, `Display`, `Serialize`, [`StoredText`]
/// (an unknown stored value is a read error) and the diesel impls of [`stored_as_text!`].
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$( $name::$variant ),*];

            /// The stored (and shown) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }

            /// The value spelled `text` exactly (a URL segment, a filter), if there is one.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )*
                    _ => None,
                }
            }
        }

        /// JSON (audit details, progress) carries the stored spelling.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// Read back from JSON (a kept event) by its stored spelling; another is an error.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {} {text:?}", stringify!($name)))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::db::text::StoredText for $name {
            fn stored(&self) -> &str {
                self.as_str()
            }

            fn from_stored(text: &str) -> Result<Self, String> {
                match text {
                    $( $text => Ok($name::$variant), )*
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }

        $crate::db::text::stored_as_text!($name);
    };
}
pub(crate) use text_enum;

/// Gives a [`StoredText`] type diesel's impls for `Text` on SQLite, PostgreSQL and
/// [`DbConn`](crate::db::DbConn): `AsExpression` (by value and by reference, nullable or
/// not), `ToSql`, `FromSql` and `Queryable`.
macro_rules! stored_as_text {
    ($ty:ty) => {
        const _: () = {
            use diesel::backend::Backend;
            use diesel::deserialize::{FromSql, Queryable};
            use diesel::expression::AsExpression;
            use diesel::internal::derives::as_expression::Bound;
            use diesel::pg::Pg;
            use diesel::serialize::{IsNull, Output, ToSql};
            use diesel::sql_types::{Nullable, Text};
            use diesel::sqlite::Sqlite;
            use $crate::db::text::StoredText;
            use $crate::db::{MultiBackend, MultiRawValue};

            impl AsExpression<Text> for $ty {
                type Expression = Bound<Text, Self>;
                fn as_expression(self) -> Self::Expression {
                    Bound::new(self)
                }
            }
            impl AsExpression<Nullable<Text>> for $ty {
                type Expression = Bound<Nullable<Text>, Self>;
                fn as_expression(self) -> Self::Expression {
                    Bound::new(self)
                }
            }
            impl<'a> AsExpression<Text> for &'a $ty {
                type Expression = Bound<Text, Self>;
                fn as_expression(self) -> Self::Expression {
                    Bound::new(self)
                }
            }
            impl<'a> AsExpression<Nullable<Text>> for &'a $ty {
                type Expression = Bound<Nullable<Text>, Self>;
                fn as_expression(self) -> Self::Expression {
                    Bound::new(self)
                }
            }
            impl<'a, 'b> AsExpression<Text> for &'b &'a $ty {
                type Expression = Bound<Text, Self>;
                fn as_expression(self) -> Self::Expression {
                    Bound::new(self)
                }
            }

            impl ToSql<Text, Sqlite> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> diesel::serialize::Result {
                    out.set_value(self.stored());
                    Ok(IsNull::No)
                }
            }
            impl ToSql<Text, Pg> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
                    <str as ToSql<Text, Pg>>::to_sql(self.stored(), out)
                }
            }
            impl ToSql<Text, MultiBackend> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> diesel::serialize::Result {
                    out.set_value((Text, self.stored()));
                    Ok(IsNull::No)
                }
            }
            impl<DB: Backend> ToSql<Nullable<Text>, DB> for $ty
            where
                $ty: ToSql<Text, DB>,
            {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> diesel::serialize::Result {
                    ToSql::<Text, DB>::to_sql(self, out)
                }
            }

            impl FromSql<Text, Sqlite> for $ty {
                fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                    let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
                    Ok(<$ty as StoredText>::from_stored(&text)?)
                }
            }
            impl FromSql<Text, Pg> for $ty {
                fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                    let text = <String as FromSql<Text, Pg>>::from_sql(value)?;
                    Ok(<$ty as StoredText>::from_stored(&text)?)
                }
            }
            impl FromSql<Text, MultiBackend> for $ty {
                fn from_sql(value: MultiRawValue<'_>) -> diesel::deserialize::Result<Self> {
                    value.from_sql::<Self, Text>()
                }
            }

            impl<DB: Backend> Queryable<Text, DB> for $ty
            where
                $ty: FromSql<Text, DB>,
            {
                type Row = Self;
                fn build(row: Self) -> diesel::deserialize::Result<Self> {
                    Ok(row)
                }
            }
        };
    };
}
#[allow(unused_imports)]
pub(crate) use stored_as_text;

impl StoredText for crate::clickbank::TransactionType {
    fn stored(&self) -> &str {
        self.as_str()
    }

    /// ClickBank's vocabulary is open: a type this version does not know is kept as it is.
    fn from_stored(text: &str) -> Result<Self, String> {
        Ok(Self::parse(text))
    }
}

stored_as_text!(crate::clickbank::TransactionType);

#[cfg(test)]
mod tests {
    use diesel::connection::{Connection, SimpleConnection};
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    use diesel::SqliteConnection;

    use super::StoredText;
    use crate::clickbank::TransactionType;

    text_enum! {
        /// A test enum.
        pub enum Light { Red = "RED", Green = "GREEN" }
    }

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        v: Light,
    }

    #[test]
    fn a_closed_enum_reads_its_text_and_refuses_an_unknown_one() {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.batch_execute("CREATE TABLE t (v TEXT NOT NULL); INSERT INTO t VALUES ('GREEN')")
            .unwrap();
        let rows: Vec<Row> = diesel::sql_query("SELECT v FROM t").load(&mut c).unwrap();
        assert_eq!(rows[0].v, Light::Green);
        diesel::sql_query("INSERT INTO t VALUES (?)")
            .bind::<Text, _>(Light::Red)
            .execute(&mut c)
            .unwrap();
        let texts: Vec<String> = diesel::sql_query("SELECT v FROM t ORDER BY rowid")
            .load::<TextRow>(&mut c)
            .unwrap()
            .into_iter()
            .map(|r| r.v)
            .collect();
        assert_eq!(texts, ["GREEN", "RED"]);
        c.batch_execute("INSERT INTO t VALUES ('AMBER')").unwrap();
        let err = diesel::sql_query("SELECT v FROM t").load::<Row>(&mut c).err();
        assert!(
            err.is_some_and(|e| e.to_string().contains("unknown Light \"AMBER\"")),
            "an unknown stored value must be a read error"
        );
    }

    #[derive(QueryableByName)]
    struct TextRow {
        #[diesel(sql_type = Text)]
        v: String,
    }

    #[test]
    fn transaction_types_keep_an_unknown_spelling() {
        assert_eq!(
            TransactionType::from_stored("NEW-KIND").unwrap(),
            TransactionType::Other("NEW-KIND".into())
        );
        assert_eq!(
            TransactionType::from_stored("CANCEL-REBILL").unwrap(),
            TransactionType::CancelRebill
        );
        assert_eq!(TransactionType::CancelTestRebill.stored(), "CANCEL-TEST-REBILL");
    }
}

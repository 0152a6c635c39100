//! The portal as a merchant uses it (issue 16, items 7, 8, 10): error pages keep the menu and
//! a way back, pages link to what they name, money and words read well.

mod error_pages;
mod links;
mod money_and_words;

//! Assertions on the `id` and `data-*` attributes the templates emit, instead of matching
//! fragments of markup: `has_id(&page, "next-page")`, `text_of_id(&page, "confirm-count")`,
//! `has_data(&page, "receipt", "PAT00001")`.

/// Where the start tag carrying `attr="value"` begins its attributes, if the page has one.
fn attribute(body: &str, attr: &str, value: &str) -> Option<usize> {
    let needle = format!(" {attr}=\"{value}\"");
    body.find(&needle)
}

/// The page has an element with this `id`.
pub fn has_id(body: &str, id: &str) -> bool {
    attribute(body, "id", id).is_some()
}

/// The page has an element with `data-<name>="<value>"`.
pub fn has_data(body: &str, name: &str, value: &str) -> bool {
    attribute(body, &format!("data-{name}"), value).is_some()
}

/// The text right inside the element with this `id` (up to its first child tag or its end),
/// trimmed; `None` when the page has no such element.
pub fn text_of_id<'a>(body: &'a str, id: &str) -> Option<&'a str> {
    let at = attribute(body, "id", id)?;
    let open_end = at + body[at..].find('>')? + 1;
    let len = body[open_end..].find('<')?;
    Some(body[open_end..open_end + len].trim())
}

#[test]
fn attributes_are_found_by_name_and_value_only() {
    let page = r#"<p id="whoami">exec@example.com</p><tr data-receipt="PAT00001" id="row-1"><td>x"#;
    assert!(has_id(page, "whoami") && has_id(page, "row-1"));
    assert!(!has_id(page, "who"), "a prefix of an id is not the id");
    assert!(has_data(page, "receipt", "PAT00001"));
    assert!(!has_data(page, "receipt", "PAT0000"));
    assert_eq!(text_of_id(page, "whoami"), Some("exec@example.com"));
    assert_eq!(text_of_id(page, "row-1"), Some(""));
    assert_eq!(text_of_id(page, "missing"), None);
}

//! README.md's endpoint list is the router's inventory (`http::inventory()`): every route
//! the console serves is listed there, and nothing it does not serve. Server functions
//! without a fixed endpoint carry a hash after their name; the README lists them as
//! `/api/<name>…`.

use std::collections::BTreeSet;

/// `(METHOD, path)` rows of the table between the README's endpoint markers.
fn listed(readme: &str) -> BTreeSet<(String, String)> {
    let start = readme
        .find("<!-- endpoints:begin -->")
        .expect("README.md has `<!-- endpoints:begin -->`");
    let end = readme
        .find("<!-- endpoints:end -->")
        .expect("README.md has `<!-- endpoints:end -->`");
    readme[start..end]
        .lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim).filter(|c| !c.is_empty());
            let method = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            let path = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            Some((method.to_string(), path.to_string()))
        })
        .collect()
}

/// A server function's path with its hash suffix shown as `…`.
fn documented(path: &str) -> String {
    let trimmed = path.trim_end_matches(|c: char| c.is_ascii_digit());
    if path.starts_with("/api/") && trimmed.len() < path.len() {
        format!("{trimmed}…")
    } else {
        path.to_string()
    }
}

#[test]
fn the_readme_lists_exactly_the_routes_the_router_serves() {
    let readme = include_str!("../../README.md");
    let served: BTreeSet<(String, String)> = switchyard::http::inventory()
        .into_iter()
        .map(|(m, p)| (m.to_string(), documented(&p)))
        .collect();
    let listed = listed(readme);
    let missing: Vec<_> = served.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&served).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README.md's endpoint list differs from http::inventory().\n\
         served but not listed: {missing:#?}\nlisted but not served: {stale:#?}"
    );
}

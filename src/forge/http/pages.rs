//! Lists that span pages: the forges cap a page (GitHub at 100 items, Gitea at its
//! `MAX_RESPONSE_ITEMS`, 50 by default), and a sticky comment found again by its marker may sit
//! on any page.

use super::{Reply, query};
use crate::forge::ForgeResult;
use serde::de::DeserializeOwned;
use std::future::Future;

/// Pages read at most for one list, so a forge that always says "more" cannot keep ade reading
/// forever.
pub(crate) const MAX_PAGES: u32 = 100;

/// Reads pages 1, 2, … with `fetch` and concatenates them, until a page says it is the last
/// (see [`more_after`]) or [`MAX_PAGES`] were read. `fetch` gets the page number and how many
/// items the earlier pages held.
pub(crate) async fn collect_pages<T, F, Fut>(mut fetch: F) -> ForgeResult<Vec<T>>
where
    F: FnMut(u32, usize) -> Fut,
    Fut: Future<Output = ForgeResult<(Vec<T>, bool)>>,
{
    let mut all = Vec::new();
    for page in 1..=MAX_PAGES {
        let (items, more) = fetch(page, all.len()).await?;
        let empty = items.is_empty();
        all.extend(items);
        if !more || empty {
            break;
        }
    }
    Ok(all)
}

/// How a forge pages its lists: the parameter that sets a page's size, and the size ade asks for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paging {
    /// `per_page` (GitHub) or `limit` (Gitea).
    pub size_param: &'static str,
    /// Items a page.
    pub size: usize,
}

/// Every item of the list at `path`, read page by page with `get` (which sends a GET of the
/// path and query it is given); `params` come before the paging ones. A `null` page (Gitea's
/// empty list) reads as empty.
pub(crate) async fn list_pages<T, G, Fut>(
    paging: Paging,
    path: &str,
    params: &[(&str, &str)],
    what: &str,
    get: G,
) -> ForgeResult<Vec<T>>
where
    T: DeserializeOwned,
    G: Fn(String) -> Fut,
    Fut: Future<Output = ForgeResult<Reply>>,
{
    let size = paging.size.to_string();
    collect_pages(|page, before| {
        let page = page.to_string();
        let mut pairs = params.to_vec();
        pairs.push((paging.size_param, &size));
        pairs.push(("page", &page));
        let reply = get(format!("{path}{}", query(&pairs)));
        async move {
            let reply = reply.await?;
            let items: Option<Vec<T>> = reply.success_json(what)?;
            let items = items.unwrap_or_default();
            let more = more_after(&reply, items.len(), paging.size, before);
            Ok((items, more))
        }
    })
    .await
}

/// Whether another page follows the one in `reply`, which held `count` items of at most
/// `per_page`, `before` items having been read on earlier pages. The forge's own word wins:
/// GitHub's `Link: …; rel="next"`, Gitea's `X-Total-Count`; without either, a full page means
/// there may be more.
pub(crate) fn more_after(reply: &Reply, count: usize, per_page: usize, before: usize) -> bool {
    if let Some(link) = reply.header("link") {
        return link
            .split(',')
            .any(|part| part.split(';').skip(1).any(|p| p.trim() == r#"rel="next""#));
    }
    if let Some(total) = reply
        .header("x-total-count")
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return before + count < total && count > 0;
    }
    count >= per_page
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, StatusCode};

    fn reply(headers: &[(&'static str, &str)]) -> Reply {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Reply {
            status: StatusCode::OK,
            headers: map,
            body: Vec::new(),
        }
    }

    #[test]
    fn the_forge_says_whether_more_follow() {
        let next = r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#;
        assert!(more_after(&reply(&[("link", next)]), 100, 100, 0));
        let last = r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=1>; rel="first""#;
        assert!(!more_after(&reply(&[("link", last)]), 100, 100, 100));
        assert!(more_after(&reply(&[("x-total-count", "120")]), 50, 50, 50));
        assert!(!more_after(&reply(&[("x-total-count", "100")]), 50, 50, 50));
        assert!(more_after(&reply(&[]), 50, 50, 0));
        assert!(!more_after(&reply(&[]), 49, 50, 0));
    }

    #[tokio::test]
    async fn pages_are_read_until_the_last() {
        let all = collect_pages(|page, _| async move {
            Ok::<_, crate::forge::ForgeError>((vec![page; 2], page < 3))
        })
        .await
        .unwrap();
        assert_eq!(all, vec![1, 1, 2, 2, 3, 3]);
    }
}

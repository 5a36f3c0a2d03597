//! A browser as the dashboard's stories need one, over plain HTTP: it keeps cookies (ade and the
//! simulator share a host, as a browser would see them), follows no redirect by itself so that a
//! story can look at each hop, and fills in the simulator's sign-in form.

use super::story::Story;
use std::collections::BTreeMap;

/// One answer: status, where it points, its body.
#[derive(Debug)]
pub struct Page {
    /// The status code.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The `Set-Cookie` headers.
    pub set_cookies: Vec<String>,
    /// The body.
    pub body: String,
}

/// Cookies, and the address pages are relative to.
pub struct Browser {
    http: reqwest::Client,
    /// ade's address.
    pub base: String,
    cookies: BTreeMap<String, String>,
}

/// Undoes the escaping of an HTML attribute value.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The value of the first `<input … name="NAME" value="…">` in `html`.
pub fn input(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let value = rest.split("value=\"").nth(1)?;
    Some(unescape(value.split('"').next()?))
}

impl Browser {
    /// A browser with no cookies, pointed at the story's ade.
    pub fn new(story: &Story) -> Browser {
        let base = story
            .ade_public_url()
            .unwrap_or_else(|| format!("http://{}", story.ade.addr()));
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base,
            cookies: BTreeMap::new(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The value of cookie `name`, if the browser holds it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Sets a cookie by hand, as a hostile page or a stolen value would.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for set in &set_cookies {
            let pair = set.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if set.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let body = response.text().await.unwrap_or_default();
        Page {
            status,
            location,
            set_cookies,
            body,
        }
    }

    /// `GET url` (absolute, or a path on ade).
    pub async fn get(&mut self, url: &str) -> Page {
        let response = self
            .http
            .get(self.absolute(url))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("the server answers");
        self.read(response).await
    }

    /// `POST url` with a form.
    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(self.absolute(url))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("the server answers");
        self.read(response).await
    }

    /// Follows redirects from `page` until one that is not a redirect.
    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            match (page.status, page.location.clone()) {
                (301 | 302 | 303 | 307 | 308, Some(location)) => page = self.get(&location).await,
                _ => return page,
            }
        }
        panic!("more than ten redirects");
    }

    /// Starts signing in at ade and comes to the forge's authorize page: its form's fields.
    pub async fn start_sign_in(&mut self, forge: &str) -> Vec<(String, String)> {
        let start = self.get(&format!("/signin/{forge}?to=/")).await;
        assert_eq!(start.status, 303, "{start:?}");
        let authorize = self.get(start.location.as_deref().unwrap()).await;
        assert_eq!(authorize.status, 200, "{authorize:?}");
        [
            "client_id",
            "redirect_uri",
            "state",
            "code_challenge",
            "code_challenge_method",
        ]
        .iter()
        .map(|name| {
            (
                (*name).to_owned(),
                input(&authorize.body, name).unwrap_or_default(),
            )
        })
        .collect()
    }

    /// Answers the forge's authorize form as `login` with `decision`; returns the redirect to ade.
    pub async fn decide(
        &mut self,
        story: &Story,
        fields: &[(String, String)],
        login: &str,
        decision: &str,
    ) -> Page {
        let mut form: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form.push(("login", login));
        form.push(("decision", decision));
        let url = format!("{}/login/oauth/authorize", story.sim.url());
        self.post(&url, &form).await
    }

    /// Signs in as `login` through the forge and lands on the board.
    pub async fn sign_in(&mut self, story: &Story, login: &str) -> Page {
        let forge = story.kind().as_str();
        let fields = self.start_sign_in(forge).await;
        let back = self.decide(story, &fields, login, "authorize").await;
        assert_eq!(back.status, 303, "{back:?}");
        let landed = self.follow(back).await;
        assert_eq!(landed.status, 200, "{}", landed.body);
        landed
    }
}

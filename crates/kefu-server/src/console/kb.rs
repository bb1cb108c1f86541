//! The knowledge base in the console (知识库): search with the matches
//! marked, an article with its answers per channel, and the articles that
//! fit a ticket, shown on the ticket's page.

use super::Lang;
use super::layout::{Fields, Shell, error_text, gate, message, render, shown};
use super::workbench::Pager;
use crate::AppState;
use crate::service::kb::{ArticleHit, ArticleQuery, Audience};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kefu_domain::kb::Article;
use kefu_store::Store;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/console/kb", get(search::<S>))
        .route("/console/kb/lexicon", get(lexicon::<S>).post(save_lexicon::<S>))
        .route("/console/kb/{code}", get(article::<S>))
        .route("/console/kb/{code}/versions", get(versions::<S>))
}

const PER_PAGE: u32 = 20;

/// A found article as a line: the snippet in pieces, the matched ones marked.
pub struct Found {
    pub code: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub pieces: Vec<(String, bool)>,
}

/// The snippet cut at its highlights.
pub(crate) fn pieces(snippet: &str, highlights: &[(usize, usize)]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(a, b) in highlights {
        if a < at || b > snippet.len() || !snippet.is_char_boundary(a) || !snippet.is_char_boundary(b) {
            continue;
        }
        if a > at {
            out.push((snippet[at..a].to_string(), false));
        }
        out.push((snippet[a..b].to_string(), true));
        at = b;
    }
    if at < snippet.len() {
        out.push((snippet[at..].to_string(), false));
    }
    out
}

pub fn found(lang: Lang, h: &ArticleHit) -> Found {
    Found {
        code: h.code.clone(),
        title: h.title.clone(),
        category: h.category.clone(),
        status: lang.t(h.status.label_zh(), h.status.label_en()).to_string(),
        pieces: pieces(&h.snippet, &h.highlights),
    }
}

#[derive(Template)]
#[template(path = "console/kb.html")]
struct SearchPage<'a> {
    shell: Shell<'a>,
    q: String,
    items: Vec<Found>,
    total: i64,
    pager: Pager,
    error: Option<String>,
}

async fn search<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(f): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/kb/articles").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let q = f.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let page = f.get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1);
    let query =
        ArticleQuery { q: Some(q.clone()).filter(|q| !q.is_empty()), page, per_page: PER_PAGE, ..Default::default() };
    let (items, total, pager, error) = match app.kefu.search_articles(Audience::Staff, &query).await {
        Ok(p) => {
            let base = format!("/console/kb?q={}", super::layout::url_encode(&q));
            let items = p.items.iter().map(|h| found(lang, h)).collect();
            (items, p.total, Pager::numbered(&base, page, PER_PAGE, p.total), None)
        }
        Err(e) => (Vec::new(), 0, Pager::default(), Some(error_text(lang, e).2)),
    };
    let shell = Shell::new(lang, Some(&user), lang.t("知识库", "Knowledge base"));
    render(StatusCode::OK, &SearchPage { shell, q, items, total, pager, error })
}

#[derive(Template)]
#[template(path = "console/kb_article.html")]
struct ArticlePage<'a> {
    shell: Shell<'a>,
    a: Article,
    status: String,
    updated: String,
    validity: String,
    votes: kefu_store::FeedbackSummary,
    /// The reasons given with the latest votes: (helpful?, reason, when).
    reasons: Vec<(bool, String, String)>,
}

async fn article<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/kb/articles/{code}").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let a = match app.kefu.article(&code).await {
        Ok(a) => a,
        Err(e) => {
            let (s, _, m) = error_text(lang, e);
            return message(s, lang, Some(&user), "404", &m);
        }
    };
    let day = |d: Option<chrono::NaiveDate>| d.map_or("—".to_string(), |d| d.to_string());
    let votes = app.kefu.article_feedback_summary(&a.code).await.unwrap_or_default();
    let reasons = votes
        .latest
        .iter()
        .filter_map(|v| v.reason.clone().map(|r| (v.helpful, r, shown(&v.at.to_rfc3339()))))
        .collect();
    let page = ArticlePage {
        votes,
        reasons,
        shell: Shell::new(lang, Some(&user), lang.t("知识库", "Knowledge base")),
        status: lang.t(a.status.label_zh(), a.status.label_en()).to_string(),
        updated: format!("{} · {} · v{}", shown(&a.updated_at.to_rfc3339()), a.updated_by, a.version),
        validity: match (a.valid_from, a.valid_to) {
            (None, None) => lang.t("长期有效", "no limit").to_string(),
            (from, to) => format!("{} – {}", day(from), day(to)),
        },
        a,
    };
    render(StatusCode::OK, &page)
}

/// One version of an article as a change from the one before.
struct Version {
    version: u32,
    by: String,
    at: String,
    /// Fields other than the body that changed: (label, before, after).
    fields: Vec<(String, String, String)>,
    /// The body's lines: "same", "removed" or "added", and the text.
    lines: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "console/kb_versions.html")]
struct VersionsPage<'a> {
    shell: Shell<'a>,
    code: String,
    title: String,
    versions: Vec<Version>,
}

fn version(lang: Lang, before: Option<&Article>, a: &Article) -> Version {
    use kefu_domain::kb::{Change, diff_lines};
    let list = |v: &[String]| v.join("、");
    let status = |x: &Article| lang.t(x.status.label_zh(), x.status.label_en()).to_string();
    let public =
        |x: &Article| if x.public { lang.t("公开", "public") } else { lang.t("仅内部", "internal") }.to_string();
    // The first version has nothing to differ from but its body.
    let fields = before.map_or_else(Vec::new, |b| {
        [
            (lang.t("标题", "Title"), b.title.clone(), a.title.clone()),
            (lang.t("分类", "Category"), b.category.clone(), a.category.clone()),
            (lang.t("状态", "Status"), status(b), status(a)),
            (lang.t("标签", "Tags"), list(&b.tags), list(&a.tags)),
            (lang.t("相似问法", "Asked also as"), list(&b.similar), list(&a.similar)),
            (lang.t("对客户公开", "Public"), public(b), public(a)),
        ]
        .into_iter()
        .filter(|(_, x, y)| x != y)
        .map(|(l, x, y)| (l.to_string(), x, y))
        .collect()
    });
    let old = before.map_or("", |b| b.body.as_str());
    let lines = diff_lines(old, &a.body)
        .into_iter()
        .map(|(c, l)| {
            let kind = match c {
                Change::Same => "same",
                Change::Removed => "removed",
                Change::Added => "added",
            };
            (kind, l.to_string())
        })
        .collect();
    Version { version: a.version, by: a.updated_by.clone(), at: shown(&a.updated_at.to_rfc3339()), fields, lines }
}

async fn versions<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/kb/articles/{code}/versions").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let all = match app.kefu.article_versions(&code).await {
        Ok(v) => v,
        Err(e) => {
            let (s, _, m) = error_text(lang, e);
            return message(s, lang, Some(&user), "404", &m);
        }
    };
    let mut out: Vec<Version> =
        all.iter().enumerate().map(|(i, a)| version(lang, i.checked_sub(1).map(|p| &all[p]), a)).collect();
    out.reverse();
    let last = all.last().cloned();
    let page = VersionsPage {
        shell: Shell::new(lang, Some(&user), lang.t("版本记录", "Versions")),
        code: last.as_ref().map_or(String::new(), |a| a.code.clone()),
        title: last.map_or(String::new(), |a| a.title),
        versions: out,
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "console/kb_lexicon.html")]
struct LexiconPage<'a> {
    shell: Shell<'a>,
    words: String,
    synonyms: String,
    may_edit: bool,
    flash: Option<String>,
    error: Option<String>,
}

/// Words one per line; a synonym group per line, its members separated by
/// spaces, commas or 、.
fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn groups(text: &str) -> Vec<Vec<String>> {
    lines(text)
        .iter()
        .map(|l| {
            l.split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | '、' | ';' | '；'))
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

async fn lexicon<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Query(f): Query<Fields>) -> Response {
    let user = match gate(&app, &headers, "GET /api/v1/search/lexicon").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    let (words, synonyms, error) = match app.kefu.lexicon().await {
        Ok(e) => {
            let g: Vec<String> = e.synonyms.iter().map(|g| g.join(" ")).collect();
            (e.words.join("\n"), g.join("\n"), None)
        }
        Err(e) => (String::new(), String::new(), Some(error_text(lang, e).2)),
    };
    let flash =
        f.contains_key("done").then(|| lang.t("已保存，搜索已按新词表更新", "Saved; search uses it now").to_string());
    lexicon_page(&app, &user, lang, (words, synonyms), flash, error, StatusCode::OK)
}

fn lexicon_page<S: Store>(
    app: &AppState<S>,
    user: &crate::auth::CurrentUser,
    lang: Lang,
    (words, synonyms): (String, String),
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let may_edit = app.kefu.core.policy.access.allows("PUT /api/v1/search/lexicon", user.actor.role) == Some(true);
    let shell = Shell::new(lang, Some(user), lang.t("搜索词表", "Search lexicon"));
    render(status, &LexiconPage { shell, words, synonyms, may_edit, flash, error })
}

async fn save_lexicon<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    axum::extract::Form(f): axum::extract::Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "PUT /api/v1/search/lexicon").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return super::layout::forbidden(lang, &user);
    }
    let (w, s) = (f.get("words").cloned().unwrap_or_default(), f.get("synonyms").cloned().unwrap_or_default());
    let entries = kefu_domain::kb::LexiconEntries { words: lines(&w), synonyms: groups(&s) };
    match app.kefu.set_lexicon(&user.actor, entries).await {
        Ok(_) => axum::response::Redirect::to("/console/kb/lexicon?done=1").into_response(),
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            lexicon_page(&app, &user, lang, (w, s), None, Some(msg), status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_is_cut_at_its_marks() {
        let s = "请重启光猫和路由器";
        let gm = s.find("光猫").unwrap();
        let p = pieces(s, &[(gm, gm + "光猫".len())]);
        assert_eq!(p, [("请重启".to_string(), false), ("光猫".to_string(), true), ("和路由器".to_string(), false)]);
        assert_eq!(
            groups("换运营商、携号转网\n\n 网断了 无法上网 "),
            [vec!["换运营商", "携号转网"], vec!["网断了", "无法上网"]]
        );
        // Marks out of order or off a character boundary are ignored, never a panic.
        assert_eq!(pieces(s, &[(1, 2)]), [(s.to_string(), false)]);
    }
}

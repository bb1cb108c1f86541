//! Knowledge base articles (知识库, R-50): a code (`KB-001`), the standard
//! question (title), similar questions (相似问法), the body, answers per
//! channel (an SMS answer fits one message), category, tags, validity
//! dates, internal or public, and a life cycle draft → published →
//! expired. Articles travel as Markdown with TOML front matter (the
//! format of `seed/kb/`), and as JSON over the API.

use crate::error::FieldError;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub mod limits {
    pub const CODE: usize = 32;
    pub const TITLE: usize = 200;
    pub const CATEGORY: usize = 40;
    pub const TAG: usize = 20;
    pub const TAGS: usize = 20;
    pub const SIMILAR: usize = 200;
    pub const SIMILARS: usize = 50;
    pub const BODY: usize = 20_000;
    /// One SMS (R-50: an SMS answer fits one message).
    pub const SMS: usize = 70;
    pub const ANSWER: usize = 2_000;
}

macro_rules! status {
    ($($v:ident = ($api:literal, $zh:literal, $en:literal)),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum ArticleStatus { #[default] $($v),+ }
        impl ArticleStatus {
            pub const ALL: &'static [ArticleStatus] = &[$(ArticleStatus::$v),+];
            pub fn as_str(self) -> &'static str { match self { $(ArticleStatus::$v => $api),+ } }
            pub fn label_zh(self) -> &'static str { match self { $(ArticleStatus::$v => $zh),+ } }
            pub fn label_en(self) -> &'static str { match self { $(ArticleStatus::$v => $en),+ } }
            pub fn parse(raw: &str) -> Result<Self, FieldError> {
                match raw.trim() {
                    $($api => Ok(ArticleStatus::$v),)+
                    other => Err(FieldError::new(
                        "status",
                        format!("status '{other}' is not one of draft, published, expired"),
                        format!("状态“{other}”无效，应为 draft（草稿）、published（已发布）或 expired（已失效）"),
                    )),
                }
            }
        }
    };
}

status! {
    Draft = ("draft", "草稿", "draft"),
    Published = ("published", "已发布", "published"),
    Expired = ("expired", "已失效", "expired"),
}

/// Answers for the channels that need their own wording.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Answers {
    /// At most 70 characters: one SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<String>,
    /// What an agent says on the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

/// An article's content, as validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleSpec {
    pub code: String,
    pub title: String,
    pub category: String,
    pub tags: Vec<String>,
    pub similar: Vec<String>,
    pub body: String,
    pub answers: Answers,
    pub status: ArticleStatus,
    /// Shown to customers (portal, bot) or to staff only.
    pub public: bool,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

/// A stored article: its content and its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Article {
    pub code: String,
    pub title: String,
    pub category: String,
    pub tags: Vec<String>,
    pub similar: Vec<String>,
    pub body: String,
    pub answers: Answers,
    pub status: ArticleStatus,
    pub public: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub valid_from: Option<NaiveDate>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub valid_to: Option<NaiveDate>,
    /// 1 for the first save, one more for every change.
    pub version: u32,
    pub updated_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Article {
    /// An article from its content and its record.
    pub fn from_spec(
        spec: ArticleSpec,
        version: i64,
        by: &str,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Article {
        Article {
            code: spec.code,
            title: spec.title,
            category: spec.category,
            tags: spec.tags,
            similar: spec.similar,
            body: spec.body,
            answers: spec.answers,
            status: spec.status,
            public: spec.public,
            valid_from: spec.valid_from,
            valid_to: spec.valid_to,
            version: u32::try_from(version).unwrap_or(u32::MAX),
            updated_by: by.to_string(),
            created_at,
            updated_at,
        }
    }

    pub fn spec(&self) -> ArticleSpec {
        ArticleSpec {
            code: self.code.clone(),
            title: self.title.clone(),
            category: self.category.clone(),
            tags: self.tags.clone(),
            similar: self.similar.clone(),
            body: self.body.clone(),
            answers: self.answers.clone(),
            status: self.status,
            public: self.public,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
        }
    }

    /// Whether customers and the bot may be shown it on `today` (Shanghai date).
    pub fn answers_customers(&self, today: NaiveDate) -> bool {
        self.public && self.in_force(today)
    }

    /// Published and within its validity dates.
    pub fn in_force(&self, today: NaiveDate) -> bool {
        self.status == ArticleStatus::Published
            && self.valid_from.is_none_or(|d| d <= today)
            && self.valid_to.is_none_or(|d| today <= d)
    }
}

/// The body of `POST /api/v1/kb/articles` and `PUT …/{code}`; also the
/// front matter of an article file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    /// Letters, digits and `-`, e.g. KB-001 (upper-cased). In a PUT the path names it.
    pub code: Option<String>,
    pub title: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub similar: Option<Vec<String>>,
    pub body: Option<String>,
    pub answers: Option<Answers>,
    /// draft (default), published or expired.
    pub status: Option<String>,
    /// Public (default) or internal to staff.
    pub public: Option<bool>,
    /// YYYY-MM-DD.
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
}

fn date(raw: Option<&str>, field: &str) -> Result<Option<NaiveDate>, FieldError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse::<NaiveDate>().map(Some).map_err(|_| {
            FieldError::new(
                field,
                format!("'{s}' is not a date such as 2026-12-01"),
                format!("“{s}”不是日期（如 2026-12-01）"),
            )
        }),
    }
}

fn text_list(raw: &Option<Vec<String>>, field: &str, each: usize, most: usize) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for item in raw.iter().flatten() {
        let t = crate::validate::required_free_text(Some(item), field, each)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > most {
        return Err(FieldError::new(
            field,
            format!("{field} holds at most {most} entries"),
            format!("{field} 最多 {most} 项"),
        ));
    }
    Ok(out)
}

/// An article code: letters, digits and `-`, upper case.
pub fn parse_code(raw: &str) -> Result<String, FieldError> {
    let code = raw.trim().to_ascii_uppercase();
    let ok = !code.is_empty()
        && code.len() <= limits::CODE
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && code.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(code)
    } else {
        Err(FieldError::new(
            "code",
            "the code is letters, digits and '-', at most 32, e.g. KB-001",
            "编号只能由字母、数字和“-”组成（最多 32 位），如 KB-001",
        ))
    }
}

impl ArticleInput {
    pub fn parse(&self) -> Result<ArticleSpec, FieldError> {
        use crate::validate::{optional_free_text, required_free_text, required_text};
        let code = parse_code(self.code.as_deref().ok_or_else(|| FieldError::required("code"))?)?;
        let answers = self.answers.clone().unwrap_or_default();
        let answer = |v: &Option<String>, field: &str, max: usize| optional_free_text(v.as_deref(), field, max);
        let answers = Answers {
            sms: answer(&answers.sms, "answers.sms", limits::SMS)?,
            web: answer(&answers.web, "answers.web", limits::ANSWER)?,
            script: answer(&answers.script, "answers.script", limits::ANSWER)?,
        };
        let spec = ArticleSpec {
            code,
            title: required_free_text(self.title.as_deref(), "title", limits::TITLE)?,
            category: required_text(self.category.as_deref(), "category", limits::CATEGORY)?,
            tags: text_list(&self.tags, "tags", limits::TAG, limits::TAGS)?,
            similar: text_list(&self.similar, "similar", limits::SIMILAR, limits::SIMILARS)?,
            body: required_free_text(self.body.as_deref(), "body", limits::BODY)?,
            answers,
            status: self.status.as_deref().map(ArticleStatus::parse).transpose()?.unwrap_or_default(),
            public: self.public.unwrap_or(true),
            valid_from: date(self.valid_from.as_deref(), "valid_from")?,
            valid_to: date(self.valid_to.as_deref(), "valid_to")?,
        };
        if let (Some(from), Some(to)) = (spec.valid_from, spec.valid_to)
            && to < from
        {
            return Err(FieldError::new("valid_to", "valid_to is before valid_from", "失效日期早于生效日期"));
        }
        Ok(spec)
    }

    /// A PUT: what it leaves out stays as stored.
    pub fn over(self, base: &ArticleSpec) -> ArticleInput {
        ArticleInput {
            code: self.code.or_else(|| Some(base.code.clone())),
            title: self.title.or_else(|| Some(base.title.clone())),
            category: self.category.or_else(|| Some(base.category.clone())),
            tags: self.tags.or_else(|| Some(base.tags.clone())),
            similar: self.similar.or_else(|| Some(base.similar.clone())),
            body: self.body.or_else(|| Some(base.body.clone())),
            answers: self.answers.or_else(|| Some(base.answers.clone())),
            status: self.status.or_else(|| Some(base.status.as_str().to_string())),
            public: self.public.or(Some(base.public)),
            valid_from: self.valid_from.or_else(|| base.valid_from.map(|d| d.to_string())),
            valid_to: self.valid_to.or_else(|| base.valid_to.map(|d| d.to_string())),
        }
    }
}

/// An article file: TOML front matter between `+++` lines, then the body.
/// Files without a status are published (they are an existing knowledge base).
pub fn from_markdown(text: &str) -> Result<ArticleInput, FieldError> {
    let bad = |why: &str| {
        FieldError::new("file", format!("not an article file: {why}"), format!("不是知识库文章文件：{why}"))
    };
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    let rest = text.strip_prefix("+++\n").ok_or_else(|| bad("it must begin with +++"))?;
    let (front, body) = rest.split_once("\n+++\n").ok_or_else(|| bad("the front matter has no closing +++"))?;
    let mut input: ArticleInput = toml::from_str(front).map_err(|e| bad(&e.to_string()))?;
    if input.body.is_some() {
        return Err(bad("the body follows the front matter, not inside it"));
    }
    input.body = Some(body.trim().to_string());
    input.status = input.status.or_else(|| Some("published".into()));
    Ok(input)
}

/// The article as a file `from_markdown` reads back.
pub fn to_markdown(a: &Article) -> String {
    #[derive(Serialize)]
    struct Front<'a> {
        code: &'a str,
        title: &'a str,
        category: &'a str,
        tags: &'a [String],
        similar: &'a [String],
        status: &'a str,
        public: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        valid_from: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        valid_to: Option<String>,
        #[serde(skip_serializing_if = "is_empty")]
        answers: &'a Answers,
    }
    fn is_empty(a: &&Answers) -> bool {
        **a == Answers::default()
    }
    let front = Front {
        code: &a.code,
        title: &a.title,
        category: &a.category,
        tags: &a.tags,
        similar: &a.similar,
        status: a.status.as_str(),
        public: a.public,
        valid_from: a.valid_from.map(|d| d.to_string()),
        valid_to: a.valid_to.map(|d| d.to_string()),
        answers: &a.answers,
    };
    let toml = toml::to_string(&front).unwrap_or_default();
    format!("+++\n{toml}+++\n{}\n", a.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "+++\ncode = \"kb-001\"\ntitle = \"宽带无法上网怎么办\"\ncategory = \"故障报修\"\ntags = [\"宽带\", \"断网\"]\nsimilar = [\"家里宽带突然上不了网\"]\n+++\n宽带突然不能上网时，可以先自助排查。\n";

    fn stored(spec: ArticleSpec) -> Article {
        Article::from_spec(spec, 1, "admin", DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH)
    }

    #[test]
    fn a_file_reads_as_a_published_public_article_and_writes_back_the_same() {
        let spec = from_markdown(FILE).unwrap().parse().unwrap();
        assert_eq!((spec.code.as_str(), spec.status, spec.public), ("KB-001", ArticleStatus::Published, true));
        assert_eq!(spec.body, "宽带突然不能上网时，可以先自助排查。");
        let a = stored(spec.clone());
        assert_eq!(from_markdown(&to_markdown(&a)).unwrap().parse().unwrap(), spec);
    }

    #[test]
    fn bad_input_names_its_field() {
        let field = |i: ArticleInput| i.parse().unwrap_err().field;
        let good = || from_markdown(FILE).unwrap();
        assert_eq!(field(ArticleInput { code: Some("KB 001".into()), ..good() }), "code");
        assert_eq!(field(ArticleInput { title: Some(" ".into()), ..good() }), "title");
        assert_eq!(field(ArticleInput { status: Some("live".into()), ..good() }), "status");
        let sms = Answers { sms: Some("短".repeat(71)), ..Default::default() };
        assert_eq!(field(ArticleInput { answers: Some(sms), ..good() }), "answers.sms");
        let dates =
            ArticleInput { valid_from: Some("2026-12-02".into()), valid_to: Some("2026-12-01".into()), ..good() };
        assert_eq!(field(dates), "valid_to");
        assert_eq!(field(ArticleInput { valid_from: Some("明天".into()), ..good() }), "valid_from");
        assert!(from_markdown("no front matter").is_err());
    }

    #[test]
    fn only_published_articles_in_their_dates_answer_customers() {
        let mut a = stored(from_markdown(FILE).unwrap().parse().unwrap());
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(a.answers_customers(day("2026-12-01")));
        a.valid_to = Some(day("2026-11-30"));
        assert!(!a.answers_customers(day("2026-12-01")));
        a.valid_to = None;
        a.public = false;
        assert!(!a.answers_customers(day("2026-12-01")) && a.in_force(day("2026-12-01")));
        a.public = true;
        a.status = ArticleStatus::Draft;
        assert!(!a.answers_customers(day("2026-12-01")));
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name() {
        let base = from_markdown(FILE).unwrap().parse().unwrap();
        let changed = ArticleInput { title: Some("新标题".into()), ..Default::default() }.over(&base).parse().unwrap();
        assert_eq!((changed.title.as_str(), changed.body.as_str()), ("新标题", base.body.as_str()));
        assert_eq!(changed.tags, base.tags);
    }
}

/// The administrators' additions to the search lexicon: words to keep
/// whole, and groups of words that mean the same (applied without a
/// restart, beside the shipped lexicon).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LexiconEntries {
    #[serde(default)]
    pub words: Vec<String>,
    #[serde(default)]
    pub synonyms: Vec<Vec<String>>,
}

pub mod lexicon_limits {
    pub const WORD: usize = 20;
    pub const WORDS: usize = 5_000;
    pub const GROUP: usize = 20;
    pub const GROUPS: usize = 1_000;
}

impl LexiconEntries {
    /// Trimmed, duplicates dropped, each word and group within its limits.
    pub fn parse(&self) -> Result<LexiconEntries, FieldError> {
        use lexicon_limits as l;
        let word = |w: &str, field: &str| crate::validate::required_text(Some(w), field, l::WORD);
        let mut words: Vec<String> = Vec::new();
        for w in &self.words {
            let w = word(w, "words")?;
            if !words.contains(&w) {
                words.push(w);
            }
        }
        if words.len() > l::WORDS {
            return Err(FieldError::new(
                "words",
                format!("at most {} words", l::WORDS),
                format!("最多 {} 个词", l::WORDS),
            ));
        }
        let mut synonyms = Vec::new();
        for g in &self.synonyms {
            let mut group: Vec<String> = Vec::new();
            for m in g {
                let m = word(m, "synonyms")?;
                if !group.contains(&m) {
                    group.push(m);
                }
            }
            if !(2..=l::GROUP).contains(&group.len()) {
                return Err(FieldError::new(
                    "synonyms",
                    format!("a synonym group has 2 to {} different words", l::GROUP),
                    format!("每组同义词须有 2 到 {} 个不同的词", l::GROUP),
                ));
            }
            synonyms.push(group);
        }
        if synonyms.len() > l::GROUPS {
            return Err(FieldError::new(
                "synonyms",
                format!("at most {} groups", l::GROUPS),
                format!("最多 {} 组同义词", l::GROUPS),
            ));
        }
        Ok(LexiconEntries { words, synonyms })
    }
}

#[cfg(test)]
mod lexicon_tests {
    use super::*;

    #[test]
    fn entries_are_trimmed_deduplicated_and_bounded() {
        let e = LexiconEntries {
            words: vec![" 畅享套餐 ".into(), "畅享套餐".into()],
            synonyms: vec![vec!["换运营商".into(), "携号转网".into(), "携号转网".into()]],
        };
        let p = e.parse().unwrap();
        assert_eq!(p.words, ["畅享套餐"]);
        assert_eq!(p.synonyms, [vec!["换运营商".to_string(), "携号转网".to_string()]]);
        let lonely = LexiconEntries { synonyms: vec![vec!["a".into(), " a".into()]], ..Default::default() };
        assert_eq!(lonely.parse().unwrap_err().field, "synonyms");
        let long = LexiconEntries { words: vec!["长".repeat(21)], ..Default::default() };
        assert_eq!(long.parse().unwrap_err().field, "words");
    }
}

/// One line of a diff between two texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    Removed,
    Added,
}

/// The lines of `old` and `new` as a diff (a longest common subsequence
/// of lines; texts longer than 2,000 lines compare as removed and added).
pub fn diff_lines<'a>(old: &'a str, new: &'a str) -> Vec<(Change, &'a str)> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    if a.len() > 2_000 || b.len() > 2_000 {
        let mut out: Vec<(Change, &str)> = a.iter().map(|l| (Change::Removed, *l)).collect();
        out.extend(b.iter().map(|l| (Change::Added, *l)));
        return out;
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push((Change::Same, a[i]));
            (i, j) = (i + 1, j + 1);
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push((Change::Removed, a[i]));
            i += 1;
        } else {
            out.push((Change::Added, b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| (Change::Removed, *l)));
    out.extend(b[j..].iter().map(|l| (Change::Added, *l)));
    out
}

#[cfg(test)]
mod diff_tests {
    use super::*;

    #[test]
    fn a_diff_keeps_what_stayed_and_marks_what_changed() {
        let d = diff_lines("一\n二\n三", "一\n二改\n三\n四");
        assert_eq!(
            d,
            [
                (Change::Same, "一"),
                (Change::Removed, "二"),
                (Change::Added, "二改"),
                (Change::Same, "三"),
                (Change::Added, "四"),
            ]
        );
        assert!(diff_lines("", "").is_empty());
        assert_eq!(diff_lines("x", ""), [(Change::Removed, "x")]);
    }
}

//! `kefu kb import|export`: the knowledge base as Markdown files with TOML
//! front matter (the format of `seed/kb/`), and `kefu search reindex`.

use anyhow::{Context, Result};
use kefu_domain::flow::Actor;
use kefu_domain::kb::{from_markdown, to_markdown};
use kefu_server::Kefu;
use kefu_server::error::ApiError;
use kefu_store::prelude::*;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum KbCommand {
    /// Add or update every `*.md` article of a directory (by code).
    Import { dir: PathBuf },
    /// Write every article to `<dir>/<code>.md`.
    Export { dir: PathBuf },
}

#[derive(clap::Subcommand)]
pub enum SearchCommand {
    /// Rebuild this node's search indexes from the store.
    Reindex,
}

fn importer() -> Actor {
    Actor::new(kefu_domain::UserId(0), "kefu-import", kefu_domain::Role::Admin)
}

pub async fn run<S: Store>(kefu: &Kefu<S>, command: KbCommand) -> Result<()> {
    match command {
        KbCommand::Import { dir } => {
            let (added, changed) = import(kefu, &dir).await?;
            println!("imported {added} new and {changed} changed articles / 导入新文章 {added} 篇、更新 {changed} 篇");
        }
        KbCommand::Export { dir } => {
            let n = export(kefu, &dir).await?;
            println!("wrote {n} articles to {} / 已导出 {n} 篇文章", dir.display());
        }
    }
    Ok(())
}

/// Imports the articles of `dir`: new codes are added, known ones changed
/// (a new version) when their content differs. Returns (added, changed).
pub async fn import<S: Store>(kefu: &Kefu<S>, dir: &Path) -> Result<(usize, usize)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    let (mut added, mut changed) = (0, 0);
    for path in files {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let input = from_markdown(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message))?;
        let spec = input.parse().map_err(|e| anyhow::anyhow!("{}: {}: {}", path.display(), e.field, e.message))?;
        match kefu.article(&spec.code).await {
            Ok(current) if current.spec() == spec => {}
            Ok(_) => {
                kefu.update_article(&importer(), &spec.code.clone(), input).await.map_err(err)?;
                changed += 1;
            }
            Err(ApiError::NotFound { .. }) => {
                kefu.create_article(&importer(), input).await.map_err(err)?;
                added += 1;
            }
            Err(e) => return Err(err(e)),
        }
    }
    Ok((added, changed))
}

async fn export<S: Store>(kefu: &Kefu<S>, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut n = 0;
    for page in 1.. {
        let filter = kefu_store::ArticleFilter { page, per_page: 200, ..Default::default() };
        let got = kefu.store.articles(filter).await?;
        for a in &got.items {
            let path = dir.join(format!("{}.md", a.code));
            std::fs::write(&path, to_markdown(a)).with_context(|| format!("writing {}", path.display()))?;
            n += 1;
        }
        if got.items.len() < 200 {
            break;
        }
    }
    Ok(n)
}

pub async fn reindex<S: Store>(kefu: &Kefu<S>, data_dir: &Path) -> Result<()> {
    let dir = data_dir.join("search");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    kefu.kb_catch_up().await.map_err(err)?;
    let started = std::time::Instant::now();
    let (index, n) = kefu.ticket_catch_up().await.map_err(err)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "search indexes rebuilt in {}: {n} tickets in {secs:.1} s ({:.0}/s), {} documents / 搜索索引已重建",
        dir.display(),
        n as f64 / secs.max(1e-9),
        index.len()
    );
    Ok(())
}

fn err(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!(e.to_string())
}

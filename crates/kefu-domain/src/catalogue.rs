//! The product catalogue (产品目录, R-22, R-23): what a customer can
//! subscribe to, its category (basic or value-added), monthly fee and when a
//! change takes effect. Data, not code: shipped for the demo and the tests
//! (`catalogue/products.toml`); the operator's comes from its BSS.

use crate::time::shanghai;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

const SHIPPED: &str = include_str!("../catalogue/products.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 基础业务: plans, broadband, lines.
    Basic,
    /// 增值业务: packs and services on top — never added or kept against the customer's will.
    ValueAdded,
}

impl Category {
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Category::Basic => ("基础业务", "basic"),
            Category::ValueAdded => ("增值业务", "value-added"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    VoicePlan,
    DataPack,
    SmsPack,
    Broadband,
    Iptv,
    Vas,
    SecondaryCard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effective {
    Immediately,
    /// The first day of the next month, Shanghai time (plan changes).
    NextMonth,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub category: Category,
    pub kind: ProductKind,
    /// Monthly fee, fen.
    pub fee_fen: i64,
    pub effective: Effective,
    /// The customer is sent a confirmation of a change (default yes).
    #[serde(default = "yes")]
    pub notice: bool,
}

fn yes() -> bool {
    true
}

impl Product {
    /// When a change ordered at `at` takes effect.
    pub fn effective_at(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self.effective {
            Effective::Immediately => at,
            Effective::NextMonth => next_month_start(at),
        }
    }
}

/// Midnight of the first day of the month after `at`'s, in Shanghai.
pub fn next_month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at.with_timezone(&shanghai()).date_naive();
    let (y, m) = if local.month() == 12 { (local.year() + 1, 1) } else { (local.year(), local.month() + 1) };
    let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(local);
    shanghai().from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default()).single().map_or(at, |t| t.to_utc())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub products: Vec<Product>,
}

impl Catalogue {
    pub fn shipped() -> Catalogue {
        toml::from_str(SHIPPED).expect("the shipped catalogue parses")
    }

    pub fn parse(text: &str) -> Result<Catalogue, String> {
        let c: Catalogue = toml::from_str(text).map_err(|e| e.to_string())?;
        c.check()?;
        Ok(c)
    }

    /// Codes unique and non-empty, fees not negative.
    pub fn check(&self) -> Result<(), String> {
        let mut codes: Vec<&str> = self.products.iter().map(|p| p.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        if codes.len() != self.products.len() || codes.iter().any(|c| c.trim().is_empty()) {
            return Err("product codes must be unique and not empty".into());
        }
        if let Some(p) = self.products.iter().find(|p| p.fee_fen < 0) {
            return Err(format!("product {}: a negative fee", p.code));
        }
        Ok(())
    }

    pub fn product(&self, code: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.code == code.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        shanghai().with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().to_utc()
    }

    #[test]
    fn the_shipped_catalogue_is_valid_and_priced_in_fen() {
        let c = Catalogue::shipped();
        c.check().unwrap();
        let plan = c.product("PLAN-5G-129").unwrap();
        assert_eq!((plan.category, plan.fee_fen, plan.effective), (Category::Basic, 12_900, Effective::NextMonth));
        assert_eq!(c.product(" VAS-CRBT ").unwrap().category, Category::ValueAdded);
        assert!(c.product("NOPE").is_none());
        let dup = Catalogue { products: vec![plan.clone(), plan.clone()] };
        assert!(dup.check().is_err());
        assert!(Catalogue::parse("[[products]]\ncode = \"X\"\n").is_err(), "fields are required");
    }

    #[test]
    fn plan_changes_take_effect_on_the_first_of_next_month_in_shanghai() {
        let c = Catalogue::shipped();
        let plan = c.product("PLAN-5G-199").unwrap();
        // 30 Nov 23:30 Shanghai is still November: 1 December.
        assert_eq!(plan.effective_at(sh(2026, 11, 30, 23)), sh(2026, 12, 1, 0));
        // 1 Dec 00:30 Shanghai (still 30 Nov in UTC) is December: 1 January.
        let just_after = sh(2026, 12, 1, 0) + chrono::Duration::minutes(30);
        assert_eq!(plan.effective_at(just_after), sh(2027, 1, 1, 0));
        assert_eq!(next_month_start(sh(2026, 12, 15, 9)), sh(2027, 1, 1, 0), "across the year");
        let pack = c.product("DATA-10G").unwrap();
        assert_eq!(pack.effective_at(just_after), just_after, "packs at once");
    }
}

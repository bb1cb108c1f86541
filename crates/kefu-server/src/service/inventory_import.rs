//! `kefu inventory import` and `POST /api/v1/inventory/import`: the
//! operator's BSS export of its customers' services, as CSV with a header
//! row naming the columns (any order):
//! `phone, name, product_code, service_number, state, monthly_fee,
//! started_at, contract_end, devices_out, balance` — `phone`,
//! `product_code` and `started_at` required; fees and balances in yuan;
//! times RFC 3339 or a Shanghai day `YYYY-MM-DD`; states by code or in
//! Chinese (在用, 停机, 已终止). Checked whole before anything is written:
//! one bad line writes nothing and names its line and column.

use super::*;
use crate::error::ApiError;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kefu_domain::FieldError;
use kefu_domain::inventory::ServiceState;
use kefu_domain::ticket::NewCustomer;
use kefu_domain::validate::Phone;
use kefu_store::{ImportCounts, ImportedService};

/// Lines one import may carry (larger exports are split).
const MAX_LINES: usize = 100_000;

impl<S: Store> Kefu<S> {
    pub async fn import_inventory(&self, csv: &str) -> Result<ImportCounts, ApiError> {
        let rows = parse(csv, &self.core.settings.catalogue)?;
        Ok(self.store.import_services(rows, self.now()).await?)
    }
}

fn bad(line: usize, column: &str, en: String, zh: String) -> ApiError {
    FieldError::new(
        format!("csv.line{line}.{column}"),
        format!("line {line}, {column}: {en}"),
        format!("第 {line} 行 {column}：{zh}"),
    )
    .into()
}

/// Splits one CSV line into fields (double quotes, doubled quotes inside).
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|f| f.trim().to_string()).collect()
}

fn time(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    kefu_domain::time::shanghai().from_local_datetime(&day.and_hms_opt(0, 0, 0)?).single().map(|t| t.to_utc())
}

/// Yuan with at most two decimals, to fen.
fn fen(raw: &str) -> Option<i64> {
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if frac.len() > 2 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let negative = int.starts_with('-');
    let whole: i64 = int.trim_start_matches('-').parse().ok()?;
    let cents: i64 = format!("{frac:0<2}").parse().ok()?;
    let v = whole.checked_mul(100)?.checked_add(cents)?;
    Some(if negative { -v } else { v })
}

fn state(raw: &str) -> Option<ServiceState> {
    ServiceState::parse(raw).or(match raw {
        "" | "在用" | "正常" => Some(ServiceState::Active),
        "停机" => Some(ServiceState::Suspended),
        "已终止" | "拆机" | "销户" => Some(ServiceState::Terminated),
        _ => None,
    })
}

pub fn parse(csv: &str, catalogue: &kefu_domain::catalogue::Catalogue) -> Result<Vec<ImportedService>, ApiError> {
    let mut lines = csv.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| bad(1, "header", "the file is empty".into(), "文件为空".into()))?;
    let header = fields(header.trim_start_matches('\u{feff}'));
    let col = |name: &str| header.iter().position(|h| h == name);
    for required in ["phone", "product_code", "started_at"] {
        if col(required).is_none() {
            return Err(bad(1, required, "the header lacks this column".into(), "表头缺少该列".into()));
        }
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let line_no = n + 1;
        if out.len() >= MAX_LINES {
            return Err(bad(
                line_no,
                "-",
                format!("at most {MAX_LINES} lines per import"),
                format!("每次最多导入 {MAX_LINES} 行"),
            ));
        }
        let f = fields(line);
        let get = |name: &str| col(name).and_then(|i| f.get(i)).map(String::as_str).unwrap_or("");
        let phone = Phone::parse(get("phone"), "phone").map_err(|e| bad(line_no, "phone", e.message, e.message_zh))?;
        let code = get("product_code");
        let product = catalogue.product(code).ok_or_else(|| {
            bad(
                line_no,
                "product_code",
                format!("no product '{code}' in the catalogue"),
                format!("产品目录中没有“{code}”"),
            )
        })?;
        let started_at = time(get("started_at")).ok_or_else(|| {
            bad(
                line_no,
                "started_at",
                "not a time (RFC 3339 or YYYY-MM-DD)".into(),
                "不是有效时间（RFC 3339 或 YYYY-MM-DD）".into(),
            )
        })?;
        let contract_end = match get("contract_end") {
            "" => None,
            raw => Some(
                time(raw).ok_or_else(|| bad(line_no, "contract_end", "not a time".into(), "不是有效时间".into()))?,
            ),
        };
        let st = state(get("state")).ok_or_else(|| {
            bad(line_no, "state", "active, suspended or terminated".into(), "须为 在用、停机 或 已终止".into())
        })?;
        let monthly_fee_fen = match get("monthly_fee") {
            "" => product.fee_fen,
            raw => fen(raw).filter(|v| *v >= 0).ok_or_else(|| {
                bad(line_no, "monthly_fee", "yuan, e.g. 129.00".into(), "以元为单位，如 129.00".into())
            })?,
        };
        let balance_fen =
            match get("balance") {
                "" => None,
                raw => Some(fen(raw).ok_or_else(|| {
                    bad(line_no, "balance", "yuan, e.g. -12.50".into(), "以元为单位，如 -12.50".into())
                })?),
            };
        let devices_out = match get("devices_out") {
            "" => 0,
            raw => raw.parse().map_err(|_| bad(line_no, "devices_out", "a count".into(), "须为数量".into()))?,
        };
        let number = match get("service_number") {
            "" => phone.as_str().to_string(),
            raw if raw.chars().count() <= 50 && !raw.chars().any(char::is_control) => raw.to_string(),
            _ => return Err(bad(line_no, "service_number", "at most 50 characters".into(), "至多 50 个字符".into())),
        };
        let name = match get("name") {
            "" => "客户".to_string(),
            raw => kefu_domain::validate::required_text(Some(raw), "name", 50)
                .map_err(|e| bad(line_no, "name", e.message, e.message_zh))?,
        };
        out.push(ImportedService {
            customer: NewCustomer { name, phone, id_number: None, address: None, level: None },
            product_code: product.code.clone(),
            service_number: number,
            state: st,
            monthly_fee_fen,
            started_at,
            contract_end,
            devices_out,
            balance_fen,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bss_export_is_read_whole_or_refused_by_line_and_column() {
        let c = kefu_domain::catalogue::Catalogue::shipped();
        let csv = "\u{feff}phone,name,product_code,service_number,state,monthly_fee,started_at,contract_end,devices_out,balance\n\
                   13800000001,\"王, 五\",PLAN-5G-129,,在用,,2025-01-05,2027-01-01,1,-12.5\n\
                   13800000001,王五,BB-300M,KD0101,停机,99,2025-03-01T08:00:00+08:00,,,\n";
        let rows = parse(csv, &c).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].customer.name.as_str(), rows[0].service_number.as_str()), ("王, 五", "13800000001"));
        assert_eq!((rows[0].monthly_fee_fen, rows[0].balance_fen, rows[0].devices_out), (12_900, Some(-1_250), 1));
        assert_eq!(rows[0].started_at, "2025-01-04T16:00:00Z".parse::<DateTime<Utc>>().unwrap(), "Shanghai midnight");
        assert_eq!((rows[1].state, rows[1].monthly_fee_fen), (ServiceState::Suspended, 9_900));
        let e = parse("phone,product_code,started_at\n13800000001,NOPE,2025-01-01\n", &c).unwrap_err();
        let ApiError::Invalid(f) = e else { panic!() };
        assert_eq!(f.field, "csv.line2.product_code");
        assert!(parse("phone,started_at\n", &c).is_err(), "product_code column required");
        assert!(parse("phone,product_code,started_at\n１３８,PLAN-5G-129,2025-01-01\n", &c).is_err());
        assert_eq!(fen("129"), Some(12_900));
        assert_eq!(fen("1.234"), None);
        assert_eq!(fen("-0.5"), Some(-50));
    }
}

//! Registrations as CSV for the admin: correct quoting (the `csv` crate) and
//! safe to open in a spreadsheet — a cell that would start a formula gets a
//! leading `'`, so `=HYPERLINK(…)` typed into a form stays text.
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::registration;

/// The session's columns come last, so readers of the columns before them go on working.
pub const CSV_COLUMNS: [&str; 11] = [
    "registered_at",
    "name",
    "email",
    "company",
    "icp",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "unsubscribed_at",
    "session_id",
    "session_starts_at",
];

/// Characters that make a spreadsheet read a cell as a formula (OWASP's list).
fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn write<W: std::io::Write>(writer: &mut csv::Writer<W>, cells: &[&str]) -> Result<(), csv::Error> {
    writer.write_record(cells.iter().map(|cell| neutralised(cell).into_owned()))
}

/// The header line (plain names: nothing to quote).
pub fn csv_header() -> String {
    format!("{}\n", CSV_COLUMNS.join(","))
}

/// Some registrations as CSV lines, each with its session's start from `session_starts`.
pub fn csv_rows(
    registrations: &[registration::Model],
    session_starts: &HashMap<i64, DateTime<Utc>>,
) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for r in registrations {
        let registered_at = r.created_at.to_rfc3339();
        let unsubscribed_at = r.unsubscribed_at.map(|at| at.to_rfc3339()).unwrap_or_default();
        let optional = |value: &Option<String>| value.clone().unwrap_or_default();
        let (company, icp) = (optional(&r.company), optional(&r.icp));
        let (source, medium, campaign) = (optional(&r.utm_source), optional(&r.utm_medium), optional(&r.utm_campaign));
        let session = r.session_id.to_string();
        let starts_at = session_starts.get(&r.session_id).map(DateTime::to_rfc3339).unwrap_or_default();
        write(
            &mut writer,
            &[
                &registered_at,
                &r.name,
                &r.email,
                &company,
                &icp,
                &source,
                &medium,
                &campaign,
                &unsubscribed_at,
                &session,
                &starts_at,
            ],
        )?;
    }
    writer.into_inner().map_err(|error| error.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_plain_text_is_kept() {
        for formula in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralised(formula), format!("'{formula}"));
        }
        for plain in ["Ada", "", "1-2", "a=b", "O'Brien"] {
            assert_eq!(neutralised(plain), plain);
        }
    }

    #[test]
    fn quoting_survives_commas_quotes_and_newlines() {
        let mut writer = csv::Writer::from_writer(Vec::new());
        write(&mut writer, &["Ada, \"the\" Countess", "line\nbreak"]).expect("write");
        let bytes = writer.into_inner().expect("flush");
        assert_eq!(String::from_utf8(bytes).expect("utf-8"), "\"Ada, \"\"the\"\" Countess\",\"line\nbreak\"\n");
    }
}

//! Backfill plans: the windows that cover a range of days for one report type, as few
//! as the type allows (each request costs quota), aligned to the type's period, none
//! before its lookback or after the last complete day, oldest first, without gaps or
//! overlaps — so a backfill is many ordinary requests the metadata table already knows
//! how to skip when they landed.

use chrono::{Datelike, Duration, NaiveDate};

use crate::report_type::ReportTypeSpec;
use crate::request::DataWindow;

/// How a report type's data is cut in time, from its `reportPeriod` (or
/// `dateGranularity`) option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Any run of days, at most `days` long.
    Days(i64),
    /// Weeks from Sunday to Saturday (Amazon's analytics weeks).
    Week,
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
    /// Calendar years.
    Year,
}

impl Period {
    /// The period a report's options ask for; otherwise runs of the type's longest
    /// window, or of `default_days` (the report's window) where the type sets none.
    pub fn of(
        spec: &ReportTypeSpec,
        options: &std::collections::BTreeMap<String, String>,
        default_days: i64,
    ) -> Period {
        let asked = options
            .get("reportPeriod")
            .or_else(|| options.get("dateGranularity"))
            .map(String::as_str);
        match asked {
            Some("WEEK") => Period::Week,
            Some("MONTH") => Period::Month,
            Some("QUARTER") => Period::Quarter,
            Some("YEAR") => Period::Year,
            Some("DAY") if options.contains_key("reportPeriod") => Period::Days(1),
            _ => Period::Days(spec.max_window_days.unwrap_or(default_days).max(1)),
        }
    }

    /// The first day of the period that holds `day`.
    fn start_of(self, day: NaiveDate) -> NaiveDate {
        let first_of = |month: u32| NaiveDate::from_ymd_opt(day.year(), month, 1).unwrap_or(day);
        match self {
            Period::Days(_) => day,
            Period::Week => day - Duration::days(i64::from(day.weekday().num_days_from_sunday())),
            Period::Month => first_of(day.month()),
            Period::Quarter => first_of((day.month0() / 3) * 3 + 1),
            Period::Year => first_of(1),
        }
    }

    /// The first day after the period that starts on `start`.
    fn end_of(self, start: NaiveDate) -> NaiveDate {
        let months = |n: u32| {
            start
                .checked_add_months(chrono::Months::new(n))
                .unwrap_or(start)
        };
        match self {
            Period::Days(days) => start + Duration::days(days),
            Period::Week => start + Duration::days(7),
            Period::Month => months(1),
            Period::Quarter => months(3),
            Period::Year => months(12),
        }
    }
}

/// The windows of `period` covering the days `from..to` (end excluded): a period that
/// `from` falls inside is taken whole (its earlier days too); one `to` cuts is left for
/// later, since it is not over. Nothing before `oldest` (the type's lookback: runs of
/// days start there, a calendar period starting earlier is skipped) and nothing ending
/// after `last` (the first day not complete yet).
pub fn windows(
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
    oldest: Option<NaiveDate>,
    last: NaiveDate,
) -> Vec<DataWindow> {
    let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = to.min(last);
    let mut start = period.start_of(from);
    // Runs of days may start at the lookback itself; a calendar period must be whole.
    if let (Period::Days(_), Some(oldest)) = (period, oldest) {
        start = start.max(oldest);
    }
    let mut out = Vec::new();
    while start < end {
        let next = period.end_of(start);
        // Runs of days stop at the range's end; a calendar period is taken whole or not.
        let stop = match period {
            Period::Days(_) => next.min(end),
            _ => next,
        };
        if stop > end {
            break;
        }
        if oldest.is_none_or(|oldest| start >= oldest) {
            out.push(DataWindow {
                start: midnight(start),
                end: midnight(stop),
            });
        }
        start = stop;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::catalog::Catalog;
    use crate::request::Source;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_two_year_backfill_of_every_catalog_type_tiles_its_range_in_its_periods() {
        let today = day("2026-12-06");
        let from = day("2024-12-06");
        let catalog = Catalog::builtin();
        let sources = ["sp-api-reports", "data-kiosk"].map(Source::new);
        let mut checked = 0;
        for source in &sources {
            for name in catalog.report_type_names(source).split(", ") {
                let spec = catalog.report_type(source, name).unwrap();
                let periods: Vec<BTreeMap<String, String>> = match &spec.options {
                    Some(options) if options.contains_key("reportPeriod") => {
                        options["reportPeriod"]
                            .iter()
                            .map(|p| BTreeMap::from([("reportPeriod".to_owned(), p.clone())]))
                            .collect()
                    }
                    _ => vec![BTreeMap::new()],
                };
                for options in periods {
                    let period = Period::of(&spec, &options, 1);
                    let oldest = spec.lookback_days.map(|d| today - Duration::days(d));
                    let plan = windows(period, from, today, oldest, today);
                    assert!(
                        !plan.is_empty() || period == Period::Year,
                        "{name} {options:?}"
                    );
                    for pair in plan.windows(2) {
                        assert_eq!(
                            pair[0].end, pair[1].start,
                            "{name} {options:?}: a gap or an overlap"
                        );
                    }
                    for window in &plan {
                        let (start, end) = (window.start.date_naive(), window.end.date_naive());
                        assert!(end <= today, "{name}: {end} is not over");
                        assert!(
                            oldest.is_none_or(|o| start >= o),
                            "{name}: {start} before the lookback"
                        );
                        if let Some(max) = spec.max_window_days {
                            assert!(
                                (end - start).num_days() <= max,
                                "{name}: longer than {max} days"
                            );
                        }
                        match period {
                            Period::Week => {
                                assert_eq!(start.weekday(), chrono::Weekday::Sun, "{name}")
                            }
                            Period::Month => assert_eq!(
                                (start.day(), (end - Duration::days(1)).month()),
                                (1, start.month())
                            ),
                            Period::Quarter => {
                                assert!(start.day() == 1 && start.month0() % 3 == 0, "{name}")
                            }
                            Period::Days(_) | Period::Year => {}
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 25, "{checked} plans");
    }

    #[test]
    fn periods_align_and_unfinished_ones_wait() {
        let weeks = windows(
            Period::Week,
            day("2026-11-04"),
            day("2026-11-30"),
            None,
            day("2026-11-29"),
        );
        let starts: Vec<String> = weeks
            .iter()
            .map(|w| w.start.date_naive().to_string())
            .collect();
        // Nov 1 is a Sunday; the week of Nov 29 is not over on the 29th.
        assert_eq!(
            starts,
            ["2026-11-01", "2026-11-08", "2026-11-15", "2026-11-22"]
        );
        let months = windows(
            Period::Month,
            day("2026-01-15"),
            day("2026-12-06"),
            None,
            day("2026-12-06"),
        );
        assert_eq!(months.len(), 11, "January (whole) to November");
        let days = windows(
            Period::Days(30),
            day("2026-10-01"),
            day("2026-11-15"),
            Some(day("2026-10-10")),
            day("2026-12-01"),
        );
        let spans: Vec<(String, i64)> = days
            .iter()
            .map(|w| (w.start.date_naive().to_string(), w.length().num_days()))
            .collect();
        assert_eq!(
            spans,
            [("2026-10-10".to_owned(), 30), ("2026-11-09".to_owned(), 6)],
            "days start at the lookback, and the last run stops at the range's end"
        );
    }
}

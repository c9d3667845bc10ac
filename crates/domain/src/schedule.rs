//! Validation of EventBridge Scheduler expressions and ISO 8601 durations in config.
//!
//! Syntax: <https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html>.
//! Catching a bad expression here names the parameter; CloudFormation would only say
//! the stack failed.

use chrono::TimeDelta;

/// Checks `cron(m h dom mon dow year)`, `rate(n unit)` or `at(yyyy-mm-ddThh:mm:ss)`;
/// the error says what is wrong and what is allowed.
pub fn validate_schedule(expression: &str) -> Result<(), String> {
    let inner = |prefix: &str| {
        expression
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
    };
    if let Some(body) = inner("cron(") {
        validate_cron(body)
    } else if let Some(body) = inner("rate(") {
        validate_rate(body)
    } else if let Some(body) = inner("at(") {
        chrono::NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
            .map(drop)
            .map_err(|_| format!("`at({body})` needs a time like at(2026-12-01T06:00:00)"))
    } else {
        Err(format!(
            "`{expression}` is not a schedule; use cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 6 * * ? *), or rate(1 day)"
        ))
    }
}

fn validate_rate(body: &str) -> Result<(), String> {
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "`rate({body})` needs a value and a unit, e.g. rate(1 day) or rate(6 hours)"
        ));
    };
    let value: u32 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("`rate({body})`: `{value}` must be a positive whole number"))?;
    let units: &[&str] = if value == 1 {
        &["minute", "hour", "day"]
    } else {
        &["minutes", "hours", "days"]
    };
    if units.contains(&unit) {
        Ok(())
    } else {
        Err(format!(
            "`rate({body})`: unit `{unit}` must be one of {} for a value of {value}",
            units.join(", ")
        ))
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    extra: &'static str,
}

const FIELDS: [Field; 6] = [
    Field {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
        extra: "",
    },
    Field {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
        extra: "",
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        extra: "?LW",
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
        extra: "",
    },
    Field {
        name: "day-of-week",
        min: 1,
        max: 7,
        names: &DAYS,
        extra: "?L#",
    },
    Field {
        name: "year",
        min: 1970,
        max: 2199,
        names: &[],
        extra: "",
    },
];

fn validate_cron(body: &str) -> Result<(), String> {
    let values: Vec<&str> = body.split_whitespace().collect();
    if values.len() != 6 {
        return Err(format!(
            "`cron({body})` has {} fields; EventBridge needs 6: minutes hours day-of-month month day-of-week year, e.g. cron(0 6 * * ? *)",
            values.len()
        ));
    }
    for (value, field) in values.iter().zip(FIELDS.iter()) {
        validate_cron_field(value, field).map_err(|problem| {
            format!("`cron({body})`, {} field `{value}`: {problem}", field.name)
        })?;
    }
    // EventBridge: one of day-of-month and day-of-week must be `?`, not both.
    if (values[2] == "?") == (values[4] == "?") {
        return Err(format!(
            "`cron({body})`: exactly one of day-of-month and day-of-week must be `?`, e.g. cron(0 6 * * ? *)"
        ));
    }
    Ok(())
}

fn validate_cron_field(value: &str, field: &Field) -> Result<(), String> {
    if value == "*" || (value == "?" && field.extra.contains('?')) {
        return Ok(());
    }
    let allowed = || {
        let names = if field.names.is_empty() {
            String::new()
        } else {
            format!(
                " or {}-{}",
                field.names[0],
                field.names[field.names.len() - 1]
            )
        };
        format!(
            "allowed: {}-{}{names}, `*`, lists `,`, ranges `-`, steps `/`",
            field.min, field.max
        )
    };
    for item in value.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            step.parse::<u32>()
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| format!("step `{step}` must be a positive number"))?;
        }
        if range == "*" {
            continue;
        }
        if field.extra.contains('L') && (range == "L" || range.ends_with('L')) {
            continue;
        }
        if field.extra.contains('W') && range.ends_with('W') {
            parse_value(&range[..range.len() - 1], field).ok_or_else(allowed)?;
            continue;
        }
        if field.extra.contains('#')
            && let Some((day, nth)) = range.split_once('#')
        {
            parse_value(day, field).ok_or_else(allowed)?;
            nth.parse::<u32>()
                .ok()
                .filter(|n| (1..=5).contains(n))
                .ok_or_else(|| format!("`#{nth}` must be 1-5"))?;
            continue;
        }
        match range.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (
                    parse_value(low, field).ok_or_else(allowed)?,
                    parse_value(high, field).ok_or_else(allowed)?,
                );
                if low > high {
                    return Err(format!("range `{range}` runs backwards"));
                }
            }
            None => {
                parse_value(range, field).ok_or_else(allowed)?;
            }
        }
    }
    Ok(())
}

fn parse_value(text: &str, field: &Field) -> Option<u32> {
    if let Some(i) = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
    {
        return Some(field.min + i as u32);
    }
    text.parse::<u32>()
        .ok()
        .filter(|v| (field.min..=field.max).contains(v))
}

/// Parses the ISO 8601 durations config uses for windows and lags: `P1D`, `P7D`, `P2W`,
/// `PT6H`, `P1DT12H`, `PT30M`, `P0D`. Months and years are refused: their length varies.
pub fn parse_duration(text: &str) -> Result<TimeDelta, String> {
    let bad = || {
        format!(
            "`{text}` is not a duration; use ISO 8601 days/weeks/hours/minutes, e.g. P1D, P7D, PT6H, P1DT12H"
        )
    };
    let rest = text.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return Err(bad());
    }
    let mut total = TimeDelta::zero();
    let mut add = |part: &str, units: &[Unit], date_part: bool| -> Result<(), String> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = units.iter().find(|(u, _)| *u == c).ok_or_else(|| {
                if matches!(c, 'Y' | 'M') && date_part {
                    format!("`{text}`: years and months have no fixed length; use days (e.g. P30D)")
                } else {
                    bad()
                }
            })?;
            let n: i64 = number.parse().map_err(|_| bad())?;
            total += (unit.1)(n);
            number.clear();
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(bad())
        }
    };
    add(date, DATE_UNITS, true)?;
    if let Some(time) = time {
        add(time, TIME_UNITS, false)?;
    }
    Ok(total)
}

/// A duration designator and what one of it is worth.
type Unit = (char, fn(i64) -> TimeDelta);

const DATE_UNITS: &[Unit] = &[('W', TimeDelta::weeks), ('D', TimeDelta::days)];
const TIME_UNITS: &[Unit] = &[
    ('H', TimeDelta::hours),
    ('M', TimeDelta::minutes),
    ('S', TimeDelta::seconds),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_schedules_are_valid() {
        for ok in [
            "cron(0 6 * * ? *)",
            "cron(15 2 ? * MON-FRI *)",
            "cron(0/30 * * * ? *)",
            "cron(0 8 1,15 * ? 2026-2030)",
            "cron(0 0 L * ? *)",
            "cron(0 0 ? * 6#3 *)",
            "cron(0 0 ? JAN-MAR SUN *)",
            "rate(1 day)",
            "rate(6 hours)",
            "at(2026-12-01T06:00:00)",
        ] {
            assert_eq!(validate_schedule(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let cases = [
            ("0 6 * * *", "not a schedule"),
            ("cron(0 6 * * *)", "has 5 fields"),
            (
                "cron(0 6 * * * *)",
                "exactly one of day-of-month and day-of-week",
            ),
            (
                "cron(0 6 ? * ? *)",
                "exactly one of day-of-month and day-of-week",
            ),
            ("cron(60 6 * * ? *)", "minutes field `60`"),
            ("cron(0 24 * * ? *)", "hours field `24`"),
            ("cron(0 6 * FOO ? *)", "month field `FOO`"),
            ("cron(0 6 5-1 * ? *)", "runs backwards"),
            (
                "rate(1 days)",
                "unit `days` must be one of minute, hour, day",
            ),
            ("rate(0 hours)", "positive whole number"),
            ("at(tomorrow)", "needs a time like"),
        ];
        for (expression, expected) in cases {
            let err = validate_schedule(expression).unwrap_err();
            assert!(err.contains(expected), "{expression}: {err}");
        }
    }

    #[test]
    fn durations_parse_days_weeks_hours() {
        assert_eq!(parse_duration("P1D"), Ok(TimeDelta::days(1)));
        assert_eq!(parse_duration("P2W"), Ok(TimeDelta::days(14)));
        assert_eq!(parse_duration("PT6H"), Ok(TimeDelta::hours(6)));
        assert_eq!(
            parse_duration("P1DT12H30M"),
            Ok(TimeDelta::minutes(36 * 60 + 30))
        );
        assert_eq!(parse_duration("P0D"), Ok(TimeDelta::zero()));
    }

    #[test]
    fn bad_durations_are_refused_with_a_hint() {
        assert!(
            parse_duration("P1M")
                .unwrap_err()
                .contains("no fixed length")
        );
        assert!(parse_duration("1D").unwrap_err().contains("e.g. P1D"));
        for bad in ["P", "PT", "P1", "PD", "P1X", "P1DT"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        // M after T is minutes, not months.
        assert_eq!(parse_duration("PT1M"), Ok(TimeDelta::minutes(1)));
    }
}

//! A series of sessions: every N weeks on chosen weekdays, or every N days,
//! at one wall-clock time in the webinar's zone, for a number of
//! occurrences or until a date. Times are kept on the wall clock, not as a
//! fixed interval of hours: 17:00 in Berlin stays 17:00 in winter and in
//! summer. The generated starts become ordinary sessions.
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::error::FieldError;

/// The most sessions one repeat makes (two years of a daily webinar is
/// more than a page can list; a typo in a count should not make thousands).
pub const MAX_OCCURRENCES: usize = 200;
/// How far ahead of its first day a series may reach: about five years.
const HORIZON_DAYS: i64 = 5 * 366;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Every {
    /// Every `weeks` weeks, on each of `weekdays`.
    Weeks {
        weeks: u32,
        weekdays: Vec<Weekday>,
    },
    Days(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    Occurrences(usize),
    /// The last day a session may fall on (in the webinar's zone), inclusive.
    Date(NaiveDate),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// The first day of the series; on a weekly repeat, the week it starts in.
    pub from: NaiveDate,
    pub at: NaiveTime,
    pub zone: Tz,
    pub every: Every,
    pub until: Until,
}

impl Repeat {
    /// The series' starts, in order.
    pub fn starts(&self) -> Vec<DateTime<Utc>> {
        // However the rule reads (no weekday, a far date), the scan ends.
        let horizon = self.from + Duration::days(HORIZON_DAYS);
        let last_day = match self.until {
            Until::Date(date) => date.min(horizon),
            Until::Occurrences(_) => horizon,
        };
        let wanted = match self.until {
            Until::Occurrences(count) => count.min(MAX_OCCURRENCES),
            Until::Date(_) => MAX_OCCURRENCES,
        };
        let week_of = |day: NaiveDate| day.week(Weekday::Mon).first_day();
        let mut starts = Vec::new();
        let mut day = self.from;
        while starts.len() < wanted && day <= last_day {
            let falls = match &self.every {
                Every::Days(days) => (day - self.from).num_days() % i64::from((*days).max(1)) == 0,
                Every::Weeks { weeks, weekdays } => {
                    let week = (week_of(day) - week_of(self.from)).num_days() / 7;
                    week % i64::from((*weeks).max(1)) == 0 && weekdays.contains(&day.weekday())
                }
            };
            if falls {
                starts.extend(wall_clock(day, self.at, self.zone));
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        starts
    }
}

/// `at` on `day` in `zone`. A time the clocks skip (spring forward) is the
/// same wall time an hour later, as calendars do; a time they repeat (fall
/// back) is its first occurrence.
fn wall_clock(day: NaiveDate, at: NaiveTime, zone: Tz) -> Option<DateTime<Utc>> {
    let local = day.and_time(at);
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| zone.from_local_datetime(&(local + Duration::hours(1))).earliest())
        .map(|start| start.with_timezone(&Utc))
}

/// A repeat rule as a form or a program writes it; the series starts at
/// the first session's start, on its wall-clock time in the webinar's zone.
#[derive(Clone, Debug, Default)]
pub struct RepeatFields<'a> {
    /// `week` or `day`.
    pub every: &'a str,
    /// Every `interval` weeks or days; 1 when empty.
    pub interval: &'a str,
    /// On a weekly repeat, the days it falls on; the first start's day when empty.
    pub weekdays: &'a [String],
    /// How many sessions in all; empty when `until` ends the series.
    pub count: &'a str,
    /// The last day (`2027-03-31`, in the webinar's zone), inclusive; empty when `count` does.
    pub until: &'a str,
}

impl RepeatFields<'_> {
    /// The rule, or every problem with it (fields named `repeat.…`).
    pub fn parse(&self, first: DateTime<Utc>, zone: Tz) -> Result<Repeat, Vec<FieldError>> {
        let mut errors = Vec::new();
        let local = first.with_timezone(&zone);
        let interval = match self.interval.trim() {
            "" => Some(1),
            raw => raw.parse::<u32>().ok().filter(|interval| (1..=365).contains(interval)),
        };
        if interval.is_none() {
            errors.push(FieldError::new("repeat.interval", "Repeat every 1 to 365 weeks or days."));
        }
        let interval = interval.unwrap_or(1);
        let mut weekdays = Vec::new();
        for raw in self.weekdays {
            match parse_weekday(raw) {
                Ok(day) if !weekdays.contains(&day) => weekdays.push(day),
                Ok(_) => {}
                Err(error) => errors.push(error),
            }
        }
        let every = match self.every.trim() {
            "week" => Some(Every::Weeks {
                weeks: interval,
                weekdays: if weekdays.is_empty() { vec![local.weekday()] } else { weekdays },
            }),
            "day" if weekdays.is_empty() => Some(Every::Days(interval)),
            "day" => {
                errors.push(FieldError::new("repeat.weekdays", "Weekdays go with a weekly repeat, not a daily one."));
                None
            }
            _ => {
                errors.push(FieldError::new("repeat.every", "Repeat every `week` or every `day`."));
                None
            }
        };
        let until = match (self.count.trim(), self.until.trim()) {
            (count, "") if !count.is_empty() => match count.parse::<usize>() {
                Ok(count) if (1..=MAX_OCCURRENCES).contains(&count) => Some(Until::Occurrences(count)),
                _ => {
                    let message = format!("Make 1 to {MAX_OCCURRENCES} sessions.");
                    errors.push(FieldError::new("repeat.count", message));
                    None
                }
            },
            ("", raw) if !raw.is_empty() => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                Ok(date) if date >= local.date_naive() => Some(Until::Date(date)),
                _ => {
                    let message = "Give the last day as a date on or after the first session, e.g. 2027-03-31.";
                    errors.push(FieldError::new("repeat.until", message));
                    None
                }
            },
            _ => {
                let message =
                    "End the repeat after a number of sessions (`count`) or on a date (`until`), one of them.";
                errors.push(FieldError::new("repeat.count", message));
                None
            }
        };
        match (every, until) {
            (Some(every), Some(until)) if errors.is_empty() => {
                Ok(Repeat { from: local.date_naive(), at: local.time(), zone, every, until })
            }
            _ => Err(errors),
        }
    }
}

/// Weekdays as forms and programs write them: `mon`, `Tuesday`, `WED`…
pub fn parse_weekday(raw: &str) -> Result<Weekday, FieldError> {
    raw.trim().parse::<Weekday>().map_err(|_| {
        FieldError::new("repeat.weekdays", "Name each weekday in English, e.g. mon, tue, wed (or monday, tuesday…).")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_a_rule_from_the_first_start_or_say_what_is_wrong() {
        let first = DateTime::parse_from_rfc3339("2027-03-22T16:00:00Z").expect("valid").with_timezone(&Utc);
        let berlin = chrono_tz::Europe::Berlin;
        let weekly = RepeatFields { every: "week", count: "3", ..Default::default() };
        let rule = weekly.parse(first, berlin).expect("valid");
        assert_eq!((rule.from, rule.at), (date("2027-03-22"), NaiveTime::from_hms_opt(17, 0, 0).expect("valid")));
        assert_eq!(rule.every, Every::Weeks { weeks: 1, weekdays: vec![Weekday::Mon] }, "the first start's day");
        assert_eq!(rule.starts().len(), 3);
        let days = ["tue".to_owned(), "thursday".to_owned(), "tue".to_owned()];
        let until = RepeatFields { every: "week", interval: "2", weekdays: &days, until: "2027-04-30", count: "" };
        let rule = until.parse(first, berlin).expect("valid");
        assert_eq!(rule.every, Every::Weeks { weeks: 2, weekdays: vec![Weekday::Tue, Weekday::Thu] });
        assert_eq!(rule.until, Until::Date(date("2027-04-30")));
        let fields = |errors: Vec<FieldError>| errors.into_iter().map(|error| error.field).collect::<Vec<_>>();
        let wrong = ["someday".to_owned()];
        let bad = RepeatFields { every: "fortnight", interval: "0", weekdays: &wrong, count: "0", until: "" };
        assert_eq!(
            fields(bad.parse(first, berlin).expect_err("invalid")),
            ["repeat.interval", "repeat.weekdays", "repeat.every", "repeat.count"]
        );
        let both = RepeatFields { every: "day", count: "2", until: "2027-04-01", ..Default::default() };
        assert_eq!(fields(both.parse(first, berlin).expect_err("invalid")), ["repeat.count"]);
        let before = RepeatFields { every: "day", until: "2027-03-21", ..Default::default() };
        assert_eq!(fields(before.parse(first, berlin).expect_err("invalid")), ["repeat.until"]);
    }

    fn date(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").expect("valid date")
    }

    fn weekly(zone: Tz, from: &str, weekdays: Vec<Weekday>, until: Until) -> Repeat {
        Repeat {
            from: date(from),
            at: NaiveTime::from_hms_opt(17, 0, 0).expect("valid time"),
            zone,
            every: Every::Weeks { weeks: 1, weekdays },
            until,
        }
    }

    fn local_times(repeat: &Repeat) -> Vec<String> {
        repeat
            .starts()
            .iter()
            .map(|start| start.with_timezone(&repeat.zone).format("%F %H:%M %Z").to_string())
            .collect()
    }

    #[test]
    fn weekly_in_berlin_keeps_five_pm_across_both_changes_of_2027() {
        // Clocks change on 28 March and 31 October 2027.
        let repeat = weekly(chrono_tz::Europe::Berlin, "2027-03-15", vec![Weekday::Mon], Until::Occurrences(3));
        assert_eq!(local_times(&repeat), ["2027-03-15 17:00 CET", "2027-03-22 17:00 CET", "2027-03-29 17:00 CEST"]);
        let utc: Vec<String> = repeat.starts().iter().map(|start| start.format("%H:%M").to_string()).collect();
        assert_eq!(utc, ["16:00", "16:00", "15:00"], "the instant moves so the wall clock does not");
        let autumn = weekly(chrono_tz::Europe::Berlin, "2027-10-25", vec![Weekday::Mon], Until::Occurrences(2));
        assert_eq!(local_times(&autumn), ["2027-10-25 17:00 CEST", "2027-11-01 17:00 CET"]);
    }

    #[test]
    fn weekly_in_new_york_keeps_its_time_across_its_own_changes() {
        // New York changes on 14 March and 7 November 2027, weeks before Europe.
        let spring = weekly(chrono_tz::America::New_York, "2027-03-08", vec![Weekday::Tue], Until::Occurrences(2));
        assert_eq!(local_times(&spring), ["2027-03-09 17:00 EST", "2027-03-16 17:00 EDT"]);
        let autumn = weekly(chrono_tz::America::New_York, "2027-11-01", vec![Weekday::Tue], Until::Occurrences(2));
        assert_eq!(local_times(&autumn), ["2027-11-02 17:00 EDT", "2027-11-09 17:00 EST"]);
    }

    #[test]
    fn several_weekdays_until_a_date() {
        let repeat = weekly(
            chrono_tz::Europe::Berlin,
            "2027-01-04",
            vec![Weekday::Tue, Weekday::Thu],
            Until::Date(date("2027-01-14")),
        );
        assert_eq!(
            local_times(&repeat),
            ["2027-01-05 17:00 CET", "2027-01-07 17:00 CET", "2027-01-12 17:00 CET", "2027-01-14 17:00 CET"]
        );
    }

    #[test]
    fn every_other_week_and_every_three_days() {
        let fortnightly = Repeat {
            every: Every::Weeks { weeks: 2, weekdays: vec![Weekday::Wed] },
            ..weekly(chrono_tz::UTC, "2027-01-04", vec![], Until::Occurrences(3))
        };
        assert_eq!(local_times(&fortnightly), ["2027-01-06 17:00 UTC", "2027-01-20 17:00 UTC", "2027-02-03 17:00 UTC"]);
        let every_three_days =
            Repeat { every: Every::Days(3), ..weekly(chrono_tz::UTC, "2027-01-30", vec![], Until::Occurrences(3)) };
        assert_eq!(
            local_times(&every_three_days),
            ["2027-01-30 17:00 UTC", "2027-02-02 17:00 UTC", "2027-02-05 17:00 UTC"]
        );
    }

    #[test]
    fn a_skipped_wall_time_moves_an_hour_later_and_counts_stay_bounded() {
        let at = NaiveTime::from_hms_opt(2, 30, 0).expect("valid time");
        let gap =
            Repeat { at, ..weekly(chrono_tz::Europe::Berlin, "2027-03-28", vec![Weekday::Sun], Until::Occurrences(1)) };
        assert_eq!(local_times(&gap), ["2027-03-28 03:30 CEST"]);
        let huge = Repeat {
            every: Every::Days(1),
            ..weekly(chrono_tz::UTC, "2027-01-01", vec![], Until::Occurrences(10_000))
        };
        assert_eq!(huge.starts().len(), MAX_OCCURRENCES);
        assert!(parse_weekday("Thursday").is_ok() && parse_weekday("thu").is_ok() && parse_weekday("x").is_err());
    }
}

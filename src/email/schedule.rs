//! Which emails a registration gets, and when.
use chrono::{DateTime, Duration, Utc};

use super::Kind;

/// Reminders before the start, longest lead first.
pub const REMINDERS: [(Kind, Duration); 3] = [
    (Kind::Reminder24h, Duration::hours(24)),
    (Kind::Reminder3h, Duration::hours(3)),
    (Kind::Reminder15m, Duration::minutes(15)),
];

/// The emails for a registration made at `now` for a webinar starting at
/// `starts_at`: the confirmation at once, then every reminder whose moment is
/// still ahead. A reminder due at `now` or earlier is skipped: a late
/// registrant never gets "starts in 24 hours" two hours before.
pub fn schedule(now: DateTime<Utc>, starts_at: DateTime<Utc>) -> Vec<(Kind, DateTime<Utc>)> {
    let reminders = REMINDERS.iter().map(|&(kind, lead)| (kind, starts_at - lead)).filter(|&(_, run_at)| run_at > now);
    std::iter::once((Kind::Confirmation, now)).chain(reminders).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_when_registering_before_start(lead: Duration) -> Vec<Kind> {
        let starts_at = DateTime::from_timestamp(1_800_000_000, 0).expect("valid instant");
        schedule(starts_at - lead, starts_at).into_iter().map(|(kind, _)| kind).collect()
    }

    #[test]
    fn two_days_before_gets_every_reminder() {
        assert_eq!(
            kinds_when_registering_before_start(Duration::days(2)),
            [Kind::Confirmation, Kind::Reminder24h, Kind::Reminder3h, Kind::Reminder15m]
        );
    }

    #[test]
    fn five_hours_before_skips_the_24h_reminder() {
        assert_eq!(
            kinds_when_registering_before_start(Duration::hours(5)),
            [Kind::Confirmation, Kind::Reminder3h, Kind::Reminder15m]
        );
    }

    #[test]
    fn one_hour_before_gets_only_the_15_minute_reminder() {
        assert_eq!(kinds_when_registering_before_start(Duration::hours(1)), [Kind::Confirmation, Kind::Reminder15m]);
    }

    #[test]
    fn five_minutes_before_gets_only_the_confirmation() {
        assert_eq!(kinds_when_registering_before_start(Duration::minutes(5)), [Kind::Confirmation]);
    }

    #[test]
    fn a_reminder_due_exactly_now_is_skipped() {
        assert_eq!(kinds_when_registering_before_start(Duration::hours(3)), [Kind::Confirmation, Kind::Reminder15m]);
    }

    #[test]
    fn run_times_are_offsets_from_the_start() {
        let starts_at = DateTime::from_timestamp(1_800_000_000, 0).expect("valid instant");
        let now = starts_at - Duration::days(2);
        let jobs = schedule(now, starts_at);
        assert_eq!(
            jobs,
            [
                (Kind::Confirmation, now),
                (Kind::Reminder24h, starts_at - Duration::hours(24)),
                (Kind::Reminder3h, starts_at - Duration::hours(3)),
                (Kind::Reminder15m, starts_at - Duration::minutes(15)),
            ]
        );
    }
}

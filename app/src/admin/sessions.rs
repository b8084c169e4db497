//! A webinar's sessions in its editor: each with its registrations, and
//! forms to add one or a repeating series, to change, cancel or delete one.
//! The rules are the admin API's ([`webinar::api::sessions`]): a new start
//! or a cancellation that would email registrants needs the box ticked.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::outcome_in_full;
use crate::api::AppError;

/// The weekdays a weekly series may fall on, as the form sends and shows them.
const WEEKDAYS: [(&str, &str); 7] =
    [("mon", "Mon"), ("tue", "Tue"), ("wed", "Wed"), ("thu", "Thu"), ("fri", "Fri"), ("sat", "Sat"), ("sun", "Sun")];

/// One session as the list shows and its form edits it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRowView {
    pub id: i64,
    /// In the webinar's zone, for people.
    pub start_shown: String,
    /// `2027-01-12T17:00` in the webinar's zone, for the form.
    pub starts_local: String,
    pub duration_minutes: String,
    pub join_url: String,
    /// Empty for no limit.
    pub capacity: String,
    pub cancelled: bool,
    pub registrations: u64,
}

/// A series as the add form sends it (`repeat[every]`, `repeat[weekdays][0]`…
/// `[6]`); without `every`, one session.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepeatForm {
    /// `week`, `day`, or empty for once.
    pub every: String,
    pub interval: String,
    pub weekdays: Vec<String>,
    pub count: String,
    pub until: String,
}

/// Adds a session at `starts_local`, or a series as `repeat` says: every
/// `interval` weeks (on `weekdays`) or days, `count` of them or until the
/// day `until`.
#[server(prefix = "/api/fn", endpoint = "admin_add_sessions")]
pub async fn admin_add_sessions(
    webinar: String,
    starts_local: String,
    duration_minutes: String,
    join_url: String,
    capacity: String,
    #[server(default)] repeat: RepeatForm,
) -> Result<usize, AppError> {
    let fields = ssr::Fields { starts_local, duration_minutes, join_url, capacity };
    crate::api::ssr::answered(ssr::add(webinar, fields, repeat).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_change_session")]
pub async fn admin_change_session(
    id: i64,
    starts_local: String,
    duration_minutes: String,
    join_url: String,
    capacity: String,
    confirm: Option<String>,
) -> Result<String, AppError> {
    let fields = ssr::Fields { starts_local, duration_minutes, join_url, capacity };
    crate::api::ssr::answered(ssr::change(id, fields, false, confirm.is_some()).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_cancel_session")]
pub async fn admin_cancel_session(id: i64, confirm: Option<String>) -> Result<String, AppError> {
    crate::api::ssr::answered(ssr::change(id, ssr::Fields::default(), true, confirm.is_some()).await)
}

#[server(prefix = "/api/fn", endpoint = "admin_delete_session")]
pub async fn admin_delete_session(id: i64) -> Result<String, AppError> {
    crate::api::ssr::answered(ssr::delete(id).await)
}

#[cfg(feature = "ssr")]
pub(super) mod ssr {
    use webinar::api::sessions::{RepeatText, SessionChange, SessionText};

    use super::*;
    use crate::admin::ssr::admin;
    use crate::api::ssr::service;

    /// The form's schedule fields, as typed.
    #[derive(Default)]
    pub struct Fields {
        pub starts_local: String,
        pub duration_minutes: String,
        pub join_url: String,
        pub capacity: String,
    }

    impl Fields {
        /// Every field is given: the form shows each one's value.
        fn text(self) -> SessionText {
            SessionText {
                starts_at: None,
                starts_local: Some(self.starts_local),
                duration_minutes: Some(self.duration_minutes),
                join_url: Some(self.join_url),
                capacity: Some(self.capacity),
            }
        }
    }

    /// The webinar's sessions, in start order, shown in its zone.
    pub async fn rows(webinar: &webinar::webinar::Model) -> Result<Vec<SessionRowView>, AppError> {
        let zone = webinar.tz();
        let sessions = service()?.sessions_of(webinar).await?;
        Ok(sessions
            .into_iter()
            .map(|session| {
                let local = session.starts_at.with_timezone(&zone);
                SessionRowView {
                    id: session.id,
                    start_shown: local.format("%a %-d %b %Y, %H:%M %Z").to_string(),
                    starts_local: local.format("%Y-%m-%dT%H:%M").to_string(),
                    duration_minutes: session.duration_minutes.to_string(),
                    join_url: session.join_url,
                    capacity: session.capacity.map(|seats| seats.to_string()).unwrap_or_default(),
                    cancelled: session.status == webinar::session::Status::Cancelled,
                    registrations: session.registrations,
                }
            })
            .collect())
    }

    pub async fn add(webinar: String, fields: Fields, repeat: RepeatForm) -> Result<usize, AppError> {
        admin().await?;
        let RepeatForm { every, interval, weekdays, count, until } = repeat;
        let repeat = (!every.trim().is_empty()).then_some(RepeatText { every, interval, weekdays, count, until });
        let made = service()?.create_sessions(&webinar, &fields.text(), repeat.as_ref(), Vec::new()).await?;
        Ok(made.len())
    }

    pub async fn change(id: i64, fields: Fields, cancel: bool, notify: bool) -> Result<String, AppError> {
        admin().await?;
        let text = match cancel {
            true => SessionText::default(),
            false => fields.text(),
        };
        service()?.update_session(id, &text, SessionChange { cancel, notify }, Vec::new()).await?;
        Ok(match cancel {
            true => "Cancelled the session; its registrants are emailed a link to pick another time.".to_owned(),
            false => "Session saved.".to_owned(),
        })
    }

    pub async fn delete(id: i64) -> Result<String, AppError> {
        admin().await?;
        service()?.api_delete_session(id).await?;
        Ok("Session deleted.".to_owned())
    }
}

/// The server actions of the sessions list, made once by the editor page
/// (which reloads when any of them ran).
#[derive(Clone, Copy)]
pub struct SessionActions {
    pub add: ServerAction<AdminAddSessions>,
    pub change: ServerAction<AdminChangeSession>,
    pub cancel: ServerAction<AdminCancelSession>,
    pub delete: ServerAction<AdminDeleteSession>,
}

impl Default for SessionActions {
    fn default() -> Self {
        Self {
            add: ServerAction::new(),
            change: ServerAction::new(),
            cancel: ServerAction::new(),
            delete: ServerAction::new(),
        }
    }
}

impl SessionActions {
    /// Changes whenever one of them completes.
    pub fn versions(&self) -> (usize, usize, usize, usize) {
        (
            self.add.version().get(),
            self.change.version().get(),
            self.cancel.version().get(),
            self.delete.version().get(),
        )
    }
}

#[component]
pub fn Sessions(slug: String, rows: Vec<SessionRowView>, actions: SessionActions) -> impl IntoView {
    let added = outcome_in_full(actions.add, |made| format!("Added {made} session(s)."));
    let changed = outcome_in_full(actions.change, |message| message);
    let cancelled = outcome_in_full(actions.cancel, |message| message);
    let deleted = outcome_in_full(actions.delete, |message| message);
    let next = rows.iter().find(|row| !row.cancelled).or(rows.first()).cloned();
    let (duration, join_url, capacity) =
        next.map(|row| (row.duration_minutes, row.join_url, row.capacity)).unwrap_or_default();
    view! {
        <section class="sessions-admin" data-testid="sessions">
            <h2>"Sessions"</h2>
            <table>
                <thead>
                    <tr>
                        <th>"Start"</th>
                        <th>"Registered"</th>
                        <th>"Change"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            let id = row.id;
                            let shown = match row.cancelled {
                                true => format!("{} (cancelled)", row.start_shown),
                                false => row.start_shown,
                            };
                            let has_registrants = row.registrations > 0;
                            view! {
                                <tr data-testid=format!("session-row-{id}")>
                                    <td>{shown}</td>
                                    <td data-testid=format!("session-row-{id}-registrations")>{row.registrations}</td>
                                    <td>
                                        <ActionForm action=actions.change attr:class="session-change">
                                            <input type="hidden" name="id" value=id.to_string()/>
                                            <input type="datetime-local" name="starts_local" aria-label="Start" value=row.starts_local/>
                                            <input type="number" name="duration_minutes" aria-label="Minutes" value=row.duration_minutes/>
                                            <input type="url" name="join_url" aria-label="Join link" value=row.join_url/>
                                            <input type="number" name="capacity" aria-label="Seats" placeholder="no limit" value=row.capacity/>
                                            <label><input type="checkbox" name="confirm" value="yes"/>" Email registrants"</label>
                                            <button type="submit" disabled=row.cancelled>"Save session"</button>
                                        </ActionForm>
                                    </td>
                                    <td>
                                        <ActionForm action=actions.cancel>
                                            <input type="hidden" name="id" value=id.to_string()/>
                                            <label><input type="checkbox" name="confirm" value="yes"/>" Email registrants"</label>
                                            <button type="submit" class="secondary" disabled=row.cancelled>"Cancel session"</button>
                                        </ActionForm>
                                        <ActionForm action=actions.delete>
                                            <input type="hidden" name="id" value=id.to_string()/>
                                            <button type="submit" class="secondary" disabled=has_registrants>"Delete"</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            <p class="form-error" role="status" data-testid="session-saved">
                {move || [changed(), cancelled(), deleted()].into_iter().flatten().collect::<Vec<_>>().join(" ")}
            </p>
            <ActionForm action=actions.add attr:class="session-add">
                <input type="hidden" name="webinar" value=slug/>
                <h3>"Add a session"</h3>
                <label>"Start (the webinar's time zone)" <input type="datetime-local" name="starts_local"/></label>
                <label>"Minutes" <input type="number" name="duration_minutes" value=duration/></label>
                <label>"Join link" <input type="url" name="join_url" value=join_url/></label>
                <label>"Seats" <input type="number" name="capacity" placeholder="no limit" value=capacity/></label>
                <label>
                    "Repeat"
                    <select name="repeat[every]">
                        <option value="">"Once"</option>
                        <option value="week">"Weekly, at the same time"</option>
                        <option value="day">"Daily, at the same time"</option>
                    </select>
                </label>
                <label>
                    "Every" <input type="number" name="repeat[interval]" min="1" max="365" placeholder="1"/>
                    " weeks (weekly) or days (daily)"
                </label>
                <fieldset class="weekdays">
                    <legend>"On (weekly; none ticked: the first session's day)"</legend>
                    {WEEKDAYS
                        .into_iter()
                        .enumerate()
                        .map(|(index, (value, label))| {
                            view! {
                                <label>
                                    <input type="checkbox" name=format!("repeat[weekdays][{index}]") value=value/>
                                    {label}
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <label>"Sessions in all" <input type="number" name="repeat[count]" min="1" max="200" placeholder="e.g. 6"/></label>
                <label>"or until (the last day)" <input type="date" name="repeat[until]"/></label>
                <button type="submit">"Add sessions"</button>
                <p class="form-error" role="status" data-testid="session-added">{added}</p>
            </ActionForm>
        </section>
    }
}

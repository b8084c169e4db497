//! What a change tells the webhooks: the event each change of a webinar
//! raises, with the webinar as the API returns it, written in the change's
//! transaction. (Registrations raise theirs where they are written.)
use sea_orm::{ConnectionTrait, DbErr};

use crate::resource::WebinarResource;
use crate::webhook::{self, Announcement, EventType};
use crate::webinar;

/// The one event a save raises: `webinar.cancelled` if it cancelled the
/// webinar, `webinar.rescheduled` if it moved the start, `webinar.updated`
/// otherwise.
pub fn webinar_event(before: &webinar::Model, after: &WebinarResource) -> EventType {
    if after.status == webinar::Status::Cancelled && before.status != webinar::Status::Cancelled {
        EventType::WebinarCancelled
    } else if after.starts_at != before.starts_at {
        EventType::WebinarRescheduled
    } else {
        EventType::WebinarUpdated
    }
}

/// Announces a saved webinar (`before` is how it was) to the endpoints that want it.
pub async fn webinar_saved<C: ConnectionTrait>(
    txn: &C,
    before: &webinar::Model,
    after: &WebinarResource,
) -> Result<u64, DbErr> {
    let event = webinar_event(before, after);
    webhook::event::announce(txn, vec![Announcement::new(event, after.updated_at, after)]).await
}

/// Loads the saved webinar `after` with its sets and announces it.
pub async fn webinar_row_saved<C: ConnectionTrait>(
    txn: &C,
    before: &webinar::Model,
    after: &webinar::Model,
) -> Result<u64, DbErr> {
    let resource = WebinarResource::load(txn, after.clone()).await?;
    webinar_saved(txn, before, &resource).await
}

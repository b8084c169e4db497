//! What a change tells the webhooks: the event each change of a webinar or
//! of one of its sessions raises, with the webinar (and its sessions) as
//! the API returns it, written in the change's transaction. (Registrations
//! raise theirs where they are written.)
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::resource::WebinarResource;
use crate::webhook::{self, Announcement, EventType};
use crate::webinar;

/// Announces a saved webinar as `event` to the endpoints that want it.
pub async fn webinar_saved<C: ConnectionTrait>(
    txn: &C,
    event: EventType,
    after: &WebinarResource,
) -> Result<u64, DbErr> {
    webhook::event::announce(txn, vec![Announcement::new(event, after.updated_at, after)]).await
}

/// Loads the saved webinar `after` with its sessions and sets, and announces it.
pub async fn webinar_row_saved<C: ConnectionTrait>(
    txn: &C,
    event: EventType,
    after: &webinar::Model,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let resource = WebinarResource::load(txn, after.clone(), now).await?;
    webinar_saved(txn, event, &resource).await
}

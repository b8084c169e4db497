//! Email copy marketing wrote for one webinar: a subject and a Markdown body
//! per kind, optionally per ICP. Without one, the built-in copy is used.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, QueryOrder};

use crate::email_job::Kind;
use crate::emails::CustomCopy;

/// The `icp` of the copy every registrant gets (no variant).
pub const DEFAULT_ICP: &str = "";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_copies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webinar_id: i64,
    pub kind: Kind,
    /// [`DEFAULT_ICP`] or an ICP key.
    pub icp: String,
    pub subject: String,
    pub body: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn copy(&self) -> CustomCopy {
        CustomCopy { subject: self.subject.clone(), body: self.body.clone() }
    }
}

pub async fn for_webinar<C: ConnectionTrait>(db: &C, webinar_id: i64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::WebinarId.eq(webinar_id))
        .order_by_asc(Column::Kind)
        .order_by_asc(Column::Icp)
        .all(db)
        .await
}

/// The copy a registrant with `icp` gets: their ICP's variant, else the
/// webinar's own copy for the kind, else `None` (the built-in copy).
pub async fn effective<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    kind: Kind,
    icp: Option<&str>,
) -> Result<Option<CustomCopy>, DbErr> {
    let candidates = [icp.unwrap_or(DEFAULT_ICP), DEFAULT_ICP];
    let mut found = Entity::find()
        .filter(Column::WebinarId.eq(webinar_id))
        .filter(Column::Kind.eq(kind))
        .filter(Column::Icp.is_in(candidates))
        .all(db)
        .await?;
    // The ICP's own copy first, the webinar's default after it.
    found.sort_by_key(|copy| copy.icp != candidates[0]);
    Ok(found.first().map(Model::copy))
}

/// One saved copy (exactly this kind and ICP), for the editor.
pub async fn find<C: ConnectionTrait>(db: &C, webinar_id: i64, kind: Kind, icp: &str) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::WebinarId.eq(webinar_id))
        .filter(Column::Kind.eq(kind))
        .filter(Column::Icp.eq(icp))
        .one(db)
        .await
}

pub async fn save<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    kind: Kind,
    icp: &str,
    copy: CustomCopy,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        webinar_id: Set(webinar_id),
        kind: Set(kind),
        icp: Set(icp.to_owned()),
        subject: Set(copy.subject),
        body: Set(copy.body),
        updated_at: Set(now),
        ..Default::default()
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::WebinarId, Column::Kind, Column::Icp])
                .update_columns([Column::Subject, Column::Body, Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(drop)
}

/// Back to the built-in copy (or, for an ICP, to the webinar's default copy).
pub async fn delete<C: ConnectionTrait>(db: &C, webinar_id: i64, kind: Kind, icp: &str) -> Result<bool, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::WebinarId.eq(webinar_id))
        .filter(Column::Kind.eq(kind))
        .filter(Column::Icp.eq(icp))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}

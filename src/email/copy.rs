//! Email copy marketing wrote for one webinar: a subject and a Markdown body
//! per kind, optionally per ICP. Without one, the built-in copy is used.
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;

use super::Kind;
use super::render::CustomCopy;

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

/// Every copy of the given webinars (the worker loads them once per claim).
pub async fn for_webinars<C: ConnectionTrait>(
    db: &C,
    webinar_ids: impl IntoIterator<Item = i64>,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(crate::store::is_one_of(db.get_database_backend(), Column::WebinarId, webinar_ids))
        .all(db)
        .await
}

/// The copy a registrant with `icp` gets among `copies`: their ICP's
/// variant, else the webinar's own copy for the kind, else `None` (the
/// built-in copy).
pub fn effective(copies: &[Model], webinar_id: i64, kind: Kind, icp: Option<&str>) -> Option<CustomCopy> {
    let of_kind = |wanted: &str| {
        copies.iter().find(|copy| copy.webinar_id == webinar_id && copy.kind == kind && copy.icp == wanted)
    };
    icp.and_then(of_kind).or_else(|| of_kind(DEFAULT_ICP)).map(Model::copy)
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

/// The webinar's copy becomes exactly these `(kind, icp, copy)` (the API's
/// replace): every kind and ICP left out goes back to the built-in copy.
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    copies: Vec<(Kind, String, CustomCopy)>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::delete_many().filter(Column::WebinarId.eq(webinar_id)).exec(db).await?;
    for (kind, icp, copy) in copies {
        save(db, webinar_id, kind, &icp, copy, now).await?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(webinar_id: i64, kind: Kind, icp: &str, subject: &str) -> Model {
        Model {
            id: 0,
            webinar_id,
            kind,
            icp: icp.into(),
            subject: subject.into(),
            body: "body".into(),
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_icps_copy_wins_then_the_webinars_then_the_built_in() {
        let copies = [
            copy(1, Kind::Confirmation, "", "default"),
            copy(1, Kind::Confirmation, "founders", "founders"),
            copy(2, Kind::Confirmation, "", "other webinar"),
        ];
        let subject = |webinar, kind, icp| effective(&copies, webinar, kind, icp).map(|copy| copy.subject);
        assert_eq!(subject(1, Kind::Confirmation, Some("founders")).as_deref(), Some("founders"));
        assert_eq!(subject(1, Kind::Confirmation, Some("security-leads")).as_deref(), Some("default"));
        assert_eq!(subject(1, Kind::Confirmation, None).as_deref(), Some("default"));
        assert_eq!(subject(1, Kind::Reminder3h, Some("founders")), None, "no copy for the kind: built-in");
        assert_eq!(subject(3, Kind::Confirmation, None), None);
    }
}

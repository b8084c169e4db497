//! A landing page's copy for one ideal-customer profile: the headline and
//! intro a visitor sees when the link carries `?icp=key`.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, QueryOrder};

use crate::FieldError;
use crate::email::copy as email_copy;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "icp_variants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webinar_id: i64,
    pub icp: String,
    pub headline: String,
    /// Plain text, shown where the subtitle is.
    pub intro: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

const KEY_MAX_CHARS: usize = 64;
const HEADLINE_MAX_CHARS: usize = 200;
const INTRO_MAX_CHARS: usize = 1000;

/// An ICP key as links carry it: registration lower-cases it, so do we.
pub fn parse_key(raw: &str) -> Result<String, FieldError> {
    let key = raw.trim().to_lowercase();
    let valid = !key.is_empty()
        && key.chars().count() <= KEY_MAX_CHARS
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid
        .then_some(key)
        .ok_or_else(|| FieldError::new("icp", "Use 1–64 letters, digits, dashes or underscores, e.g. security-leads."))
}

/// The ICP an email copy is for: empty for every registrant
/// ([`email_copy::DEFAULT_ICP`]), else a valid ICP key.
pub fn copy_icp(raw: &str) -> Result<String, FieldError> {
    match raw.trim() {
        "" => Ok(email_copy::DEFAULT_ICP.to_owned()),
        key => parse_key(key),
    }
}

/// A variant as the editor submits it, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub icp: String,
    pub headline: String,
    pub intro: String,
}

impl Variant {
    pub fn parse(icp: &str, headline: &str, intro: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let icp = parse_key(icp).map_err(|error| errors.push(error)).unwrap_or_default();
        let headline = headline.trim().to_owned();
        if headline.is_empty() || headline.chars().count() > HEADLINE_MAX_CHARS {
            errors.push(FieldError::new("headline", "Enter a headline (1 to 200 characters)."));
        }
        let intro = intro.trim().to_owned();
        if intro.chars().count() > INTRO_MAX_CHARS {
            errors.push(FieldError::new("intro", "The intro must be at most 1000 characters."));
        }
        if errors.is_empty() { Ok(Self { icp, headline, intro }) } else { Err(errors) }
    }
}

pub async fn for_webinar<C: ConnectionTrait>(db: &C, webinar_id: i64) -> Result<Vec<Model>, DbErr> {
    Entity::find().filter(Column::WebinarId.eq(webinar_id)).order_by_asc(Column::Icp).all(db).await
}

/// The variant for a visitor's `?icp=` value, if the webinar has one.
pub async fn find<C: ConnectionTrait>(db: &C, webinar_id: i64, icp: &str) -> Result<Option<Model>, DbErr> {
    let Ok(key) = parse_key(icp) else { return Ok(None) };
    Entity::find().filter(Column::WebinarId.eq(webinar_id)).filter(Column::Icp.eq(key)).one(db).await
}

/// Adds the variant, or replaces the one with the same key.
pub async fn save<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    variant: Variant,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        webinar_id: Set(webinar_id),
        icp: Set(variant.icp),
        headline: Set(variant.headline),
        intro: Set(variant.intro),
        updated_at: Set(now),
        ..Default::default()
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::WebinarId, Column::Icp])
                .update_columns([Column::Headline, Column::Intro, Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(drop)
}

/// The webinar's variants become exactly these (the API's replace).
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    variants: Vec<Variant>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::delete_many().filter(Column::WebinarId.eq(webinar_id)).exec(db).await?;
    for variant in variants {
        save(db, webinar_id, variant, now).await?;
    }
    Ok(())
}

/// Removes a variant; true when there was one.
pub async fn delete<C: ConnectionTrait>(db: &C, webinar_id: i64, icp: &str) -> Result<bool, DbErr> {
    let Ok(key) = parse_key(icp) else { return Ok(false) };
    let deleted =
        Entity::delete_many().filter(Column::WebinarId.eq(webinar_id)).filter(Column::Icp.eq(key)).exec(db).await?;
    Ok(deleted.rows_affected > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lower_cased_and_limited_to_link_safe_characters() {
        assert_eq!(parse_key(" Security-Leads ").expect("valid"), "security-leads");
        for bad in ["", "a b", "<script>", &"x".repeat(65)] {
            assert!(parse_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_variant_needs_a_headline() {
        let errors = Variant::parse("founders", "  ", "").expect_err("no headline");
        assert_eq!(errors[0].field, "headline");
        let variant = Variant::parse("Founders", " For founders ", " intro ").expect("valid");
        assert_eq!(variant, Variant { icp: "founders".into(), headline: "For founders".into(), intro: "intro".into() });
    }
}

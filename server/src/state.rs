use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use webinar::Service;

use crate::live::LiveHub;

#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub service: Service,
    pub live: Arc<LiveHub>,
    pub links: webinar::links::Links,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

//! Follows a webinar's registration count over the server's websocket.
use leptos::prelude::*;

/// On the server there is no socket: the rendered count is the current one.
#[cfg(not(feature = "hydrate"))]
pub fn follow_count(_slug: String, _count: RwSignal<u64>) {}

#[cfg(feature = "hydrate")]
pub fn follow_count(slug: String, count: RwSignal<u64>) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{MessageEvent, WebSocket};

    #[derive(serde::Deserialize)]
    struct Update {
        registrations: u64,
    }

    Effect::new(move |_| {
        let location = window().location();
        let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
        let host = location.host().unwrap_or_default();
        let Ok(socket) = WebSocket::new(&format!("{scheme}://{host}/api/webinar/live?webinar={slug}")) else {
            return;
        };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let update = event.data().as_string().and_then(|text| serde_json::from_str::<Update>(&text).ok());
            if let Some(update) = update {
                count.set(update.registrations);
            }
        });
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // The socket lives as long as the page; so does its handler.
        on_message.forget();
    });
}

//! Follows a webinar's registration counts (its total and its sessions')
//! over the server's websocket, and reconnects with backoff when the socket
//! closes (a server restart, a network blip); the server sends the current
//! counts on every connect.
use std::collections::BTreeMap;

use leptos::prelude::*;

/// Session id → its count.
pub type SessionCounts = RwSignal<BTreeMap<i64, u64>>;

/// On the server there is no socket: the rendered counts are the current ones.
#[cfg(not(feature = "hydrate"))]
pub fn follow_count(_slug: String, _count: RwSignal<u64>, _sessions: SessionCounts) {}

#[cfg(feature = "hydrate")]
pub fn follow_count(slug: String, count: RwSignal<u64>, sessions: SessionCounts) {
    Effect::new(move |_| {
        let location = window().location();
        let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
        let host = location.host().unwrap_or_default();
        let url = format!("{scheme}://{host}/api/webinar/live?webinar={slug}");
        socket::connect(std::rc::Rc::new(url), (count, sessions), 0);
    });
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::rc::Rc;
    use std::time::Duration;

    use std::collections::BTreeMap;

    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{MessageEvent, WebSocket};

    #[derive(serde::Deserialize)]
    struct Counts {
        registrations: u64,
        /// The sessions whose count moved (every open one on connect).
        #[serde(default)]
        sessions: BTreeMap<i64, u64>,
    }

    /// 0.5 s, 1 s, 2 s … up to 15 s, each with up to 50 % random extra so a
    /// restarted server is not met by every page at the same instant.
    fn backoff(failures: u32) -> Duration {
        let base = 500.0 * 2f64.powi(failures.min(5) as i32);
        let jitter = 1.0 + web_sys::js_sys::Math::random() / 2.0;
        Duration::from_millis((base.min(15_000.0) * jitter) as u64)
    }

    /// `failures`: connections in a row that closed without a message.
    pub fn connect(url: Rc<String>, counts: (RwSignal<u64>, super::SessionCounts), failures: u32) {
        let retry = {
            let url = Rc::clone(&url);
            move |failures: u32| {
                set_timeout(move || connect(url, counts, failures + 1), backoff(failures));
            }
        };
        let Ok(socket) = WebSocket::new(&url) else {
            retry(failures);
            return;
        };
        let received = Rc::new(std::cell::Cell::new(false));
        let on_message = {
            let received = Rc::clone(&received);
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let update = event.data().as_string().and_then(|text| serde_json::from_str::<Counts>(&text).ok());
                if let Some(update) = update {
                    received.set(true);
                    counts.0.set(update.registrations);
                    counts.1.update(|sessions| sessions.extend(update.sessions));
                }
            })
        };
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // A socket's message handler lives as long as the socket; one per connection.
        on_message.forget();
        let on_close = Closure::once_into_js(move || retry(if received.get() { 0 } else { failures }));
        socket.set_onclose(Some(on_close.unchecked_ref()));
    }
}

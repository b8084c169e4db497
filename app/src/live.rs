//! Follows a webinar's registration count over the server's websocket, and
//! reconnects with backoff when the socket closes (a server restart, a
//! network blip); the server sends the current count on every connect.
use leptos::prelude::*;

/// On the server there is no socket: the rendered count is the current one.
#[cfg(not(feature = "hydrate"))]
pub fn follow_count(_slug: String, _count: RwSignal<u64>) {}

#[cfg(feature = "hydrate")]
pub fn follow_count(slug: String, count: RwSignal<u64>) {
    Effect::new(move |_| {
        let location = window().location();
        let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
        let host = location.host().unwrap_or_default();
        let url = format!("{scheme}://{host}/api/webinar/live?webinar={slug}");
        socket::connect(std::rc::Rc::new(url), count, 0);
    });
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::rc::Rc;
    use std::time::Duration;

    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{MessageEvent, WebSocket};

    #[derive(serde::Deserialize)]
    struct Update {
        registrations: u64,
    }

    /// 0.5 s, 1 s, 2 s … up to 15 s, each with up to 50 % random extra so a
    /// restarted server is not met by every page at the same instant.
    fn backoff(failures: u32) -> Duration {
        let base = 500.0 * 2f64.powi(failures.min(5) as i32);
        let jitter = 1.0 + web_sys::js_sys::Math::random() / 2.0;
        Duration::from_millis((base.min(15_000.0) * jitter) as u64)
    }

    /// `failures`: connections in a row that closed without a message.
    pub fn connect(url: Rc<String>, count: RwSignal<u64>, failures: u32) {
        let retry = {
            let url = Rc::clone(&url);
            move |failures: u32| {
                set_timeout(move || connect(url, count, failures + 1), backoff(failures));
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
                let update = event.data().as_string().and_then(|text| serde_json::from_str::<Update>(&text).ok());
                if let Some(update) = update {
                    received.set(true);
                    count.set(update.registrations);
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

//! The wasm entry: hydrates the server-rendered page.
// The app's view types nest deeply; the release build's layout queries need the room.
#![recursion_limit = "256"]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy: an admin page's code (a separate wasm chunk) loads before it hydrates.
    leptos::mount::hydrate_lazy(app::App);
}

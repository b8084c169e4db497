# `make run` and `make test` work on a fresh machine: each installs what is missing first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

WASM_BINDGEN_VERSION := 0.2.130
CARGO_LEPTOS_VERSION := 0.3.8
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# wasm-opt (npm's binaryen) and Playwright come from node_modules; cargo tools from ~/.cargo/bin.
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: run test setup browser build lint unit e2e bench soak

run: build ## Build and serve on :3000 with SQLite (data/) and a demo webinar
	SEED_DEMO=true LEPTOS_SITE_ROOT=target/site $(TARGET_DIR)/release/server serve

test: setup browser lint unit e2e ## Every test: lints, unit, integration (SQLite + Postgres), browser

setup: ## Install the wasm toolchain, npm tools and python3 (for scripts/) when missing
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@wasm-bindgen --version 2>/dev/null | grep -q ' $(WASM_BINDGEN_VERSION)$$' \
		|| cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@cargo leptos --version 2>/dev/null | grep -q ' $(CARGO_LEPTOS_VERSION)$$' \
		|| cargo install cargo-leptos --version $(CARGO_LEPTOS_VERSION) --locked
	@[ -x node_modules/.bin/wasm-opt ] && [ -x node_modules/.bin/playwright ] || npm ci --no-audit --no-fund
	@command -v python3 >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3; }

browser: ## Debian's Chromium for Playwright (Playwright's own download is not reachable)
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

build: setup ## Release server + optimised wasm bundle into target/site (admin pages in lazy chunks)
	cargo leptos build --release --split

lint: ## Formatting, clippy on every crate (the wasm one for its target), import cycles, the sqlx patch
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
	scripts/check-import-cycles
	scripts/check-sqlx-patch

unit: ## Unit and integration tests (the local Postgres must be up)
	cargo test --workspace --exclude frontend

e2e: build ## Playwright against the release server on a fresh SQLite database
	rm -rf target/e2e && mkdir -p target/e2e
	SERVER_BIN=$(TARGET_DIR)/release/server npx playwright test -c end2end/playwright.config.ts

# Each bench exits non-zero when it misses a target; `-` lets the others still run (make reports each miss).
bench: build ## Benchmarks (programs, not tests): see BENCHMARKS.md
	cargo build --release -p tools --bin bench --bin sendgrid-mock
	-$(TARGET_DIR)/release/bench registrations --database postgres
	-$(TARGET_DIR)/release/bench registrations --database sqlite
	-$(TARGET_DIR)/release/bench reminders --database postgres
	-$(TARGET_DIR)/release/bench reminders --database sqlite
	-$(TARGET_DIR)/release/bench stats
	-$(TARGET_DIR)/release/bench landing
	-$(TARGET_DIR)/release/bench websockets
	-$(TARGET_DIR)/release/bench api --database postgres
	-$(TARGET_DIR)/release/bench api --database sqlite
	-$(TARGET_DIR)/release/bench events --database postgres
	-$(TARGET_DIR)/release/bench events --database sqlite
	-$(TARGET_DIR)/release/bench webhooks --database postgres
	-$(TARGET_DIR)/release/bench webhooks --database sqlite
	-$(TARGET_DIR)/release/bench registrations --database postgres --webhook

soak: build ## Ten minutes at half the maximum registration rate, a reminder burst in the middle (Postgres)
	cargo build --release -p tools --bin bench --bin sendgrid-mock
	$(TARGET_DIR)/release/bench soak --database postgres --minutes 10

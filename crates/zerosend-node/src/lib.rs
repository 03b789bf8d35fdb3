//! The napi binding of zerosend. Thin on purpose: it converts arguments, schedules the core's
//! transfer on napi's tokio runtime, forwards progress and cancellation, and turns the core's
//! outcome into a plain object the TypeScript layer maps to Node-style errors. No transfer logic.
//!
//! Users never see this module: `src/` is the public API.

#![deny(clippy::all)]
// Under `cargo test` napi-derive registers no exports, so every export looks unused.
#![cfg_attr(test, allow(dead_code))]

mod capabilities;
mod completions;
mod file_version;
mod open_beneath;
mod outcome;
mod path_watch;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod relay;
mod transfer;

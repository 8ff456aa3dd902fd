//! Shared test harnesses (`mod support;` in a test file).
#![allow(dead_code)] // each test binary uses a part

pub(crate) mod moto;

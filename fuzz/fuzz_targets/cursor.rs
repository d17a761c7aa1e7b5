//! Fuzz target `cursor`: see `check_cursor` in tests/fuzz_corpus.rs for the properties checked.

#![no_main]

#[allow(dead_code)]
#[path = "../../tests/fuzz_corpus.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_cursor(data));

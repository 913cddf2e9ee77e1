#![no_main]

mod pipeline;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(dockerfile) = std::str::from_utf8(data) {
        pipeline::import(dockerfile);
    }
});

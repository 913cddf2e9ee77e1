#![no_main]

mod pipeline;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The CLI rejects a spec that is not UTF-8 before compiling it.
    if let Ok(source) = std::str::from_utf8(data) {
        let _ = pipeline::dockerfile(source);
    }
});

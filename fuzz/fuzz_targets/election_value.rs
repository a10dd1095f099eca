#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| machined_fuzz_checks::election_value(data));

//! The parent's side of the worker protocol: whatever bytes a (crashed, compromised or
//! buggy) worker writes, reading them gives messages or a clean error, never a panic or an
//! allocation larger than the frame limit; every message read writes back to the same one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pagemill_core::protocol::{read_frame, write_frame, Request, Response};

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    while let Ok((msg, _)) = read_frame::<_, Response>(&mut input) {
        let mut buf = Vec::new();
        write_frame(&mut buf, &msg).expect("a message read can be written");
        let (again, _) = read_frame::<_, Response>(&mut &buf[..]).expect("and read again");
        assert_eq!(again, msg);
    }
    // The worker's side, reading the parent's requests.
    let mut input = data;
    while read_frame::<_, Request>(&mut input).is_ok() {}
});

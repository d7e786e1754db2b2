//! The integration tests, one binary (each test binary links aws-sdk-ec2 again): the three
//! functions driven through their Lambda handlers, with the real aws-sdk-ec2 talking HTTP to the
//! moto emulator, or to SDK doubles where the emulator cannot show a case. Support code is the
//! crate's library (`tests/src/lib.rs`). `lambda_environment.rs` stays a binary of its own: it
//! sets the process environment and installs the global log subscriber.

mod attachment_states;
mod emulator;
mod operator;
mod permissions;
mod prune;
mod record;
mod sdk_doubles;
mod segments;
mod traffic;

//! Reads JSON values, one a line, and checks that each one decodes as the execution state and
//! serialises back unchanged: the stack tests pipe every execution output they see through it.
//! Prints each value that does not survive the round trip, and exits 1 if any did not.

use std::io::BufRead;

use serde_json::Value;
use tgw_peering::contract::state::PeeringState;

fn main() {
    let mut failures = 0;
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.expect("stdin is readable");
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line).expect("each line is one JSON value");
        let back = PeeringState::decode(&value, "(output)", "")
            .map(|state| serde_json::to_value(state).expect("the state always serialises"));
        match back {
            Ok(back) if back == value => {}
            Ok(back) => {
                failures += 1;
                eprintln!(
                    "line {}: changed by the round trip\n  was: {value}\n  now: {back}",
                    number + 1
                );
            }
            Err(err) => {
                failures += 1;
                eprintln!("line {}: does not decode ({err}): {value}", number + 1);
            }
        }
    }
    std::process::exit(i32::from(failures > 0));
}

//! Lambda entry points: one per function, each a span around the library call with its outcome
//! logged. The binaries only wire these to the runtime.
//!
//! The payload arrives as raw JSON and is decoded here, not by the runtime: a payload the
//! runtime would refuse (nested deeper than the JSON reader allows) is then `InvalidInput`, an
//! errorType the state machine knows, instead of the runtime's own.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::value::RawValue;
use tracing::{error, info, info_span, warn, Instrument};

use crate::actions;
use crate::actions::routes::Budget;
use crate::aws::Shell;
use crate::contract::fit::{fit, json_size};
use crate::contract::state::{parse_payload, PeeringState, MAX_STATE_BYTES};
use crate::error::{Error, Result};

/// What each function receives: the payload as sent, decoded by the function itself.
pub type Payload = LambdaEvent<Box<RawValue>>;

/// A function's work, boxed and type-erased: the futures nest deeply (concurrent reads in both
/// Regions, each call in its span), and erasing them keeps the runtime's future type small
/// enough for the compiler to lay out.
type Work<'a, T = PeeringState> = Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

/// How long this invocation may still run, from the deadline Lambda gives it; `None` when the
/// deadline is unset or already behind us (no real invocation starts past its deadline).
pub fn time_left(lambda: &lambda_runtime::Context, now: SystemTime) -> Option<Duration> {
    if lambda.deadline == 0 {
        return None;
    }
    lambda.deadline().duration_since(now).ok()
}

/// What a function's output may take of the execution's state: Step Functions' payload quota less
/// room for the fields the state machine keeps beside it (`polling`, `lock`, `notification`).
pub const MAX_OUTPUT_BYTES: usize = MAX_STATE_BYTES - 16 * 1024;

/// Refuses an output that would not fit the execution's state: a function error is caught by the
/// state machine (it releases the lock), `States.DataLimitExceeded` is not.
fn check_output_size<T: Serialize>(function: &'static str, output: &T) -> Result<()> {
    let bytes = json_size(output);
    if bytes > MAX_OUTPUT_BYTES {
        return Err(Error::OutputTooLarge {
            function,
            bytes,
            limit: MAX_OUTPUT_BYTES,
        });
    }
    Ok(())
}

/// A pair's state, listed briefly enough to fit the execution's state whatever the network.
fn fitted(state: PeeringState) -> PeeringState {
    fit(state, MAX_OUTPUT_BYTES)
}

async fn invoke<T: Serialize>(function: &'static str, request_id: &str, work: Work<'_, T>) -> Result<T> {
    let span = info_span!("invocation", function, request_id);
    async move {
        match work
            .await
            .and_then(|output| check_output_size(function, &output).map(|()| output))
        {
            Ok(output) => {
                info!(action = function, "done");
                Ok(output)
            }
            Err(err) => {
                error!(action = function, error_type = err.error_type(), error = %err, "failed");
                Err(err)
            }
        }
    }
    .instrument(span)
    .await
}

pub async fn peer(shell: &Shell, event: Payload) -> Result<actions::PeerOutput> {
    let work: Work<actions::PeerOutput> = Box::pin(async {
        let input = parse_payload(event.payload.get(), "(request)")?;
        actions::peer_or_mesh(shell, &input)
            .await
            .map(|output| match output {
                actions::PeerOutput::Pair(state) => actions::PeerOutput::Pair(Box::new(fitted(*state))),
                mesh => mesh,
            })
    });
    invoke("peer", &event.context.request_id, work).await
}

pub async fn get_status(shell: &Shell, event: Payload) -> Result<PeeringState> {
    let work: Work = Box::pin(async {
        let input = parse_payload(event.payload.get(), "(input)")?;
        actions::get_status(shell, &input).await.map(fitted)
    });
    invoke("get-status", &event.context.request_id, work).await
}

pub async fn modify_routes(shell: &Shell, event: Payload) -> Result<PeeringState> {
    let budget = match time_left(&event.context, SystemTime::now()) {
        Some(left) => Budget::until(Instant::now() + left, shell.config().route_writes.deadline_margin),
        None => {
            warn!(
                action = "modify-routes",
                deadline_ms = event.context.deadline,
                "the invocation has no usable deadline; every planned route is written in this pass"
            );
            Budget::unlimited()
        }
    };
    let work: Work = Box::pin(async {
        let input = parse_payload(event.payload.get(), "(input)")?;
        actions::modify_routes(shell, &input, budget).await.map(fitted)
    });
    invoke("modify-routes", &event.context.request_id, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_deadline_ms(deadline: u64) -> lambda_runtime::Context {
        let mut context = lambda_runtime::Context::default();
        context.deadline = deadline;
        context
    }

    #[test]
    fn the_payload_reaches_the_function_undecoded_through_the_runtimes_own_reader() {
        // lambda_runtime decodes the body with serde_path_to_error over serde_json, as here.
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let raw: Box<RawValue> =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&deep)).unwrap();
        assert_eq!(raw.get(), deep);
        assert!(parse_payload(raw.get(), "(request)").is_err());
    }

    #[test]
    fn time_left_is_the_distance_to_a_future_deadline_and_none_for_an_unset_or_past_one() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000);
        assert_eq!(
            time_left(&with_deadline_ms(1_800_000_003_500), now),
            Some(Duration::from_millis(3500))
        );
        assert_eq!(time_left(&with_deadline_ms(0), now), None, "unset");
        // cargo-lambda's emulator sends a duration here, which reads as a date in 1970.
        assert_eq!(time_left(&with_deadline_ms(600_000), now), None, "already past");
    }

    #[test]
    fn given_an_output_that_would_overflow_the_state_then_it_is_a_catchable_error() {
        let fits = serde_json::json!({"pad": "x".repeat(MAX_OUTPUT_BYTES - 20)});
        assert!(check_output_size("modify-routes", &fits).is_ok());
        let too_big = serde_json::json!({"pad": "x".repeat(MAX_OUTPUT_BYTES)});
        let err = check_output_size("modify-routes", &too_big).unwrap_err();
        assert_eq!(err.error_type(), "OutputTooLarge");
        assert!(
            err.to_string().starts_with("modify-routes output too large"),
            "{err}"
        );
    }
}

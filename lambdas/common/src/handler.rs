//! Lambda entry points: one per function, each a span around the library call with its outcome
//! logged. The binaries only wire these to the runtime.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, info_span, warn, Instrument};

use crate::context::Context;
use crate::error::Result;
use crate::routes::Budget;

/// How long this invocation may still run, from the deadline Lambda gives it; `None` when the
/// deadline is unset or already behind us (no real invocation starts past its deadline).
pub fn time_left(lambda: &lambda_runtime::Context, now: SystemTime) -> Option<Duration> {
    if lambda.deadline == 0 {
        return None;
    }
    lambda.deadline().duration_since(now).ok()
}

async fn invoke<T, F>(function: &'static str, request_id: &str, work: F) -> Result<Value>
where
    T: Serialize,
    F: Future<Output = Result<T>>,
{
    let span = info_span!("invocation", function, request_id);
    // Boxed: the functions' futures nest deeply (concurrent reads in both Regions), and keeping
    // them off the runtime's future keeps its type small.
    let work = Box::pin(work);
    async move {
        match work.await {
            Ok(output) => {
                info!(action = function, "done");
                Ok(serde_json::to_value(output).expect("outputs are plain data and always serialise"))
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

pub async fn peer(context: &Context, event: LambdaEvent<Value>) -> Result<Value> {
    invoke(
        "peer",
        &event.context.request_id,
        crate::peer::handle(context, &event.payload),
    )
    .await
}

pub async fn get_status(context: &Context, event: LambdaEvent<Value>) -> Result<Value> {
    invoke(
        "get-status",
        &event.context.request_id,
        crate::status::get_status(context, &event.payload),
    )
    .await
}

pub async fn modify_routes(context: &Context, event: LambdaEvent<Value>) -> Result<Value> {
    let budget = match time_left(&event.context, SystemTime::now()) {
        Some(left) => Budget::until(Instant::now() + left, context.route_writes().deadline_margin),
        None => {
            warn!(
                action = "modify-routes",
                deadline_ms = event.context.deadline,
                "the invocation has no usable deadline; every planned route is written in this pass"
            );
            Budget::unlimited()
        }
    };
    invoke(
        "modify-routes",
        &event.context.request_id,
        crate::routes::modify_routes(context, &event.payload, budget),
    )
    .await
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
}

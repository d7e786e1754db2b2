//! Lambda entry points: one per function, each a span around the library call with its outcome
//! logged. The binaries only wire these to the runtime.

use std::future::Future;

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, info_span, Instrument};

use crate::context::Context;
use crate::error::Result;

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
        crate::peer::peer(context, &event.payload),
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
    invoke(
        "modify-routes",
        &event.context.request_id,
        crate::routes::modify_routes(context, &event.payload),
    )
    .await
}

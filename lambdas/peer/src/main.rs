//! The `peer` Lambda: see `tgw_peering::handler::peer`.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tgw_peering::{handler, Context};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let context = Context::from_env().await;
    let context = &context;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        handler::peer(context, event)
    }))
    .await
}

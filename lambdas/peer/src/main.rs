//! The `peer` Lambda: see `tgw_peering::handler::peer`.

use lambda_runtime::service_fn;
use tgw_peering::{handler, Shell};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let shell = Shell::from_env().await;
    let shell = &shell;
    lambda_runtime::run(service_fn(move |event: handler::Payload| {
        handler::peer(shell, event)
    }))
    .await
}

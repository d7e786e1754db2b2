//! The JSON contract: the state that flows through the state machine ([`state`]), the request
//! inside it and its checks ([`request`], [`validate`]). Reports are typed in [`crate::plan`].

pub mod fit;
pub mod request;
pub mod state;
pub mod validate;

//! The imperative shell's AWS side: every call to AWS is made here. [`Ec2`] is the EC2 edge,
//! [`records::RecordStore`] the state table's record of the routes this tool created,
//! [`convert`] turns the SDK's types into the core's plain data, and [`Shell`] holds what a
//! function builds once per cold start (configuration, clients, paces, assumed roles, the STS
//! call that checks a passive account's role).

mod convert;
pub mod ec2;
pub mod records;
pub mod shell;

pub use ec2::{Ec2, RouteTable, TransitGateway};
pub use shell::{Shell, SideAt};

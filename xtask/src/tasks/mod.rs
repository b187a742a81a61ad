//! One module per subcommand.

pub mod bench;
pub mod contracts;
pub mod lambda_build;
pub mod lint;
pub mod sam;
pub mod services;
pub mod test;
pub mod tools;
pub mod up;

//! The real binary, started through the test kit's server processes.

// Each test target uses some of these.
#![allow(unused_imports)]

pub use registry_testkit::eventually;
pub use registry_testkit::server::{ServerProcess as Server, Starting};

/// `registry-server serve --listen 127.0.0.1:0 --log-level warn ARGS` with `env` (every other
/// `REGISTRY_` variable cleared), once it listens.
pub fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
    Server::start(env!("CARGO_BIN_EXE_registry-server"), args, env)
}

/// The same command, started without waiting for anything: for starts that wait (for a
/// database) or fail.
pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Starting {
    let mut command = registry_testkit::server::serve_command(
        env!("CARGO_BIN_EXE_registry-server"),
        &[],
        "127.0.0.1:0",
    );
    command.args(args).envs(env.iter().copied());
    Starting::spawn(command).expect("start registry-server")
}

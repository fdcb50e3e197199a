//! Heartbeat and registration throughput of the SQL storage (filled in below).

fn main() {}

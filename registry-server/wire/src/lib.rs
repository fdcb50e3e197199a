//! DB-GPT's model controller JSON, owned in one place and used by the server and the client
//! alike: what workers send (register and heartbeat bodies, the deregister and listing
//! queries) and what listings answer, converted to and from `registry-core`'s
//! [`ModelInstance`](registry_core::ModelInstance). The domain type is never the JSON schema.
//!
//! Inputs are parsed loosely first (every field a [`Loose`] value) and then converted, so that
//! each error names its field, and values come as DB-GPT's FastAPI takes them: integers and
//! booleans may be strings, unknown fields are ignored.
//!
//! ```
//! use registry_wire::{InstanceBody, InstanceOut};
//!
//! let body = br#"{"model_name":"glm-4@llm","host":"10.0.0.7","port":"8001"}"#;
//! let instance = InstanceBody::parse(body)?.into_instance()?;
//! assert_eq!(instance.port, 8001);
//! let json = serde_json::to_value(InstanceOut::from(&*instance)).unwrap();
//! assert_eq!(json.as_object().unwrap().len(), 10);
//! # Ok::<(), registry_wire::WireError>(())
//! ```

mod error;
mod instance;
mod loose;
mod timestamp;

pub use error::{Place, Problem, WireError, parse_json};
pub use instance::{
    DeregisterQuery, InstanceBody, InstanceOut, ListQuery, encode_instance, instance_list, listing,
    parse_listing,
};
pub use loose::{Loose, parse_bool, parse_int, parse_query_int};
pub use timestamp::{format_timestamp, format_wall_clock, parse_timestamp};

/// The README's examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

//! The registry table, as diesel sees it: DB-GPT's `dbgpt_cluster_registry_instance`.
//!
//! DB-GPT declares `weight`, the three flags and the times nullable; so does this schema, and
//! the adapter maps `NULL` to DB-GPT's defaults. `id` is 64 bits wide: upserts on PostgreSQL
//! and MySQL draw a sequence value even when they update, so a 32-bit id would run out.

#![allow(missing_docs)]

diesel::table! {
    /// One row per model instance; `(model_name, host, port)` is unique.
    dbgpt_cluster_registry_instance (id) {
        /// Auto-increment key.
        id -> BigInt,
        /// The worker key, such as `glm-4-9b-chat@llm`.
        model_name -> Varchar,
        /// The address the worker is reachable on.
        host -> Varchar,
        /// The worker's port.
        port -> Integer,
        /// Share of traffic.
        weight -> Nullable<Double>,
        /// Whether the checker may mark the instance unhealthy.
        check_healthy -> Nullable<Bool>,
        /// Whether the instance is healthy.
        healthy -> Nullable<Bool>,
        /// Whether the instance may be selected.
        enabled -> Nullable<Bool>,
        /// The prompt template, if any.
        prompt_template -> Nullable<Varchar>,
        /// The last heartbeat, UTC.
        last_heartbeat -> Nullable<Timestamp>,
        /// DB-GPT's user column; never written by this crate.
        user_name -> Nullable<Varchar>,
        /// DB-GPT's system code column; never written by this crate.
        sys_code -> Nullable<Varchar>,
        /// When the row was created, UTC.
        gmt_created -> Nullable<Timestamp>,
        /// When the row was last written, UTC.
        gmt_modified -> Nullable<Timestamp>,
        /// The weight an operator set (`apply_settings`), which registrations keep; `NULL`
        /// when the worker's weight applies. Not in DB-GPT's model, which ignores it.
        operator_weight -> Nullable<Double>,
    }
}

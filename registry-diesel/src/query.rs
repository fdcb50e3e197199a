//! A [`QuerySpec`]'s conditions, checked against the table's columns before any SQL is built.
//!
//! The rules are the in-memory storage's: a condition on an unknown field, or with a value of
//! the wrong type, matches nothing.

use chrono::NaiveDateTime;
use registry_core::{FieldValue, QuerySpec};

use crate::time::stored_wall;
use crate::zone::WallClockZone;

/// One equality condition on a column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition<'a> {
    ModelName(&'a str),
    Host(&'a str),
    Port(i32),
    Weight(f64),
    CheckHealthy(bool),
    Healthy(bool),
    Enabled(bool),
    PromptTemplate(Option<&'a str>),
    LastHeartbeat(Option<NaiveDateTime>),
}

/// The conditions of `spec`, or `None` if one of them can match no row. Times are compared
/// on `zone`'s wall clock, as the table stores them.
pub(crate) fn conditions(spec: &QuerySpec, zone: WallClockZone) -> Option<Vec<Condition<'_>>> {
    spec.conditions()
        .iter()
        .map(|(field, value)| condition(field, value, zone))
        .collect()
}

fn condition<'a>(field: &str, value: &'a FieldValue, zone: WallClockZone) -> Option<Condition<'a>> {
    use FieldValue as V;
    Some(match (field, value) {
        ("model_name", V::Text(text)) => Condition::ModelName(text),
        ("host", V::Text(text)) => Condition::Host(text),
        ("port", V::Int(port)) => Condition::Port(i32::from(u16::try_from(*port).ok()?)),
        ("weight", V::Float(weight)) => Condition::Weight(*weight),
        ("check_healthy", V::Bool(flag)) => Condition::CheckHealthy(*flag),
        ("healthy", V::Bool(flag)) => Condition::Healthy(*flag),
        ("enabled", V::Bool(flag)) => Condition::Enabled(*flag),
        ("prompt_template", V::Text(text)) => Condition::PromptTemplate(Some(text)),
        ("prompt_template", V::Null) => Condition::PromptTemplate(None),
        ("last_heartbeat", V::Time(time)) => {
            Condition::LastHeartbeat(Some(stored_wall(zone, *time)))
        }
        ("last_heartbeat", V::Null) => Condition::LastHeartbeat(None),
        _ => return None,
    })
}

/// `LIMIT` and `OFFSET` for a spec, if it has either; a spec with only an offset gets the
/// largest limit, since MySQL has no `OFFSET` without `LIMIT`.
pub(crate) fn window(spec: &QuerySpec) -> Option<(i64, i64)> {
    let clamp = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    if spec.limit_value().is_none() && spec.offset_value() == 0 {
        return None;
    }
    Some((
        spec.limit_value().map_or(i64::MAX, clamp),
        clamp(spec.offset_value()),
    ))
}

/// Adds each condition to a boxed query as a `WHERE … AND …` clause. A macro, not a
/// function, so that it expands against each backend's query type.
macro_rules! apply_conditions {
    ($query:expr, $conditions:expr) => {{
        use $crate::query::Condition as C;
        use $crate::schema::dbgpt_cluster_registry_instance as t;
        let mut query = $query;
        for condition in $conditions {
            query = match *condition {
                C::ModelName(value) => query.filter(t::model_name.eq(value)),
                C::Host(value) => query.filter(t::host.eq(value)),
                C::Port(value) => query.filter(t::port.eq(value)),
                C::Weight(value) => query.filter(t::weight.eq(value)),
                C::CheckHealthy(value) => query.filter(t::check_healthy.eq(value)),
                C::Healthy(value) => query.filter(t::healthy.eq(value)),
                C::Enabled(value) => query.filter(t::enabled.eq(value)),
                C::PromptTemplate(Some(value)) => query.filter(t::prompt_template.eq(value)),
                C::PromptTemplate(None) => query.filter(t::prompt_template.is_null()),
                C::LastHeartbeat(Some(value)) => query.filter(t::last_heartbeat.eq(value)),
                C::LastHeartbeat(None) => query.filter(t::last_heartbeat.is_null()),
            };
        }
        query
    }};
}
pub(crate) use apply_conditions;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_conditions_are_kept() {
        let spec = QuerySpec::new()
            .eq("model_name", "glm-4@llm")
            .eq("port", 8001_i64)
            .eq("healthy", true)
            .eq("prompt_template", None::<&str>);
        assert_eq!(
            conditions(&spec, WallClockZone::Utc).unwrap(),
            [
                Condition::ModelName("glm-4@llm"),
                Condition::Port(8001),
                Condition::Healthy(true),
                Condition::PromptTemplate(None),
            ]
        );
    }

    #[test]
    fn impossible_conditions_match_nothing() {
        for spec in [
            QuerySpec::new().eq("no_such_field", 1_i64),
            QuerySpec::new().eq("port", "8001"),
            QuerySpec::new().eq("port", 70_000_i64),
            QuerySpec::new().eq("healthy", 1_i64),
            QuerySpec::new().eq("model_name", None::<&str>),
        ] {
            assert_eq!(conditions(&spec, WallClockZone::Utc), None, "{spec:?}");
        }
    }

    #[test]
    fn windows_need_a_limit_or_an_offset() {
        assert_eq!(window(&QuerySpec::new()), None);
        assert_eq!(window(&QuerySpec::new().limit(3).offset(3)), Some((3, 3)));
        assert_eq!(window(&QuerySpec::new().offset(2)), Some((i64::MAX, 2)));
    }
}

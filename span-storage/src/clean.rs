//! Metadata as DB-GPT writes it: its `_clean_for_json` drops every `null`, in objects and in
//! arrays, at any depth, before the span is written. The stored metadata keeps its nulls (a
//! reader of a [`MemorySpanStorage`](crate::MemorySpanStorage) sees what was set); only the
//! written form leaves them out.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// Serialises a value without its nulls: an object leaves out the entries whose value is
/// `null`, an array the `null` items; what remains is cleaned the same way. An object whose
/// entries were all `null` is written as `{}`, as DB-GPT writes it.
pub(crate) struct WithoutNulls<'a>(pub(crate) &'a Value);

/// Serialises an object without its nulls (see [`WithoutNulls`]).
pub(crate) struct ObjectWithoutNulls<'a>(pub(crate) &'a Map<String, Value>);

impl Serialize for WithoutNulls<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => ObjectWithoutNulls(map).serialize(s),
            Value::Array(items) => {
                let kept = items.iter().filter(|item| !item.is_null());
                let mut seq = s.serialize_seq(Some(kept.clone().count()))?;
                for item in kept {
                    seq.serialize_element(&WithoutNulls(item))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

impl Serialize for ObjectWithoutNulls<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let kept = self.0.iter().filter(|(_, value)| !value.is_null());
        let mut map = s.serialize_map(Some(kept.clone().count()))?;
        for (key, value) in kept {
            map.serialize_entry(key, &WithoutNulls(value))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::WithoutNulls;
    use serde_json::json;

    fn cleaned(value: serde_json::Value) -> String {
        serde_json::to_string(&WithoutNulls(&value)).expect("json")
    }

    #[test]
    fn nulls_are_dropped_at_every_depth_and_the_rest_keeps_its_order() {
        let value = json!({
            "z": 1, "gone": null, "a": [null, 2, {"x": null, "y": [null]}], "empty": {"n": null}
        });
        assert_eq!(cleaned(value), r#"{"z":1,"a":[2,{"y":[]}],"empty":{}}"#);
    }

    #[test]
    fn scalars_and_a_lone_null_are_written_as_they_are() {
        assert_eq!(cleaned(json!("s")), r#""s""#);
        assert_eq!(cleaned(json!(false)), "false");
        assert_eq!(cleaned(json!(null)), "null");
    }
}

//! `registry_model_instances{model,state}`: instances of each model by state, so that "model X
//! has no healthy instance" can be alerted on. Its cardinality is bounded: at most
//! [`MAX_MODELS`] models (the first by name) times three states; `registry_model_instances_truncated`
//! is 1 when more models exist than are shown.

use std::fmt::Write as _;

use registry_core::ModelCountsPage;

use super::header;

/// The most models the per-model gauge shows, 3 series each.
pub(crate) const MAX_MODELS: usize = 1000;

/// A label value as the Prometheus text format escapes it.
fn label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out
}

/// Writes the per-model gauge; nothing when the storage could not be counted.
pub(crate) fn render_models(out: &mut String, page: Option<&ModelCountsPage>) {
    let Some(page) = page else {
        return;
    };
    header(
        out,
        "registry_model_instances",
        "gauge",
        "Instances of each model by state: healthy (and enabled), unhealthy (and enabled), disabled.",
    );
    for model in &page.models {
        let name = label_value(&model.model_name);
        for (state, count) in [
            ("healthy", model.healthy),
            ("unhealthy", model.unhealthy),
            ("disabled", model.disabled),
        ] {
            let _ = writeln!(
                out,
                "registry_model_instances{{model=\"{name}\",state=\"{state}\"}} {count}"
            );
        }
    }
    header(
        out,
        "registry_model_instances_truncated",
        "gauge",
        "1 when more models exist than registry_model_instances shows (the first 1000 by name).",
    );
    let _ = writeln!(
        out,
        "registry_model_instances_truncated {}",
        u8::from(page.more)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_has_three_series_and_names_are_escaped() {
        let mut page = ModelCountsPage::default();
        page.add("glm@llm", true, true, 2);
        page.add("we\"ird\\name", false, true, 1);
        let mut out = String::new();
        render_models(&mut out, Some(&page));
        assert!(out.contains("registry_model_instances{model=\"glm@llm\",state=\"healthy\"} 2\n"));
        assert!(
            out.contains("registry_model_instances{model=\"glm@llm\",state=\"unhealthy\"} 0\n")
        );
        assert!(out.contains(
            "registry_model_instances{model=\"we\\\"ird\\\\name\",state=\"unhealthy\"} 1\n"
        ));
        assert!(out.contains("registry_model_instances_truncated 0\n"));
        let mut none = String::new();
        render_models(&mut none, None);
        assert!(none.is_empty());
    }
}

use axum::http::Uri;

use super::*;

fn instance(model: &str, host: &str, port: u16, healthy: bool, weight: f64) -> ModelInstance {
    let mut i = ModelInstance::new(model, host, port);
    i.healthy = healthy;
    i.weight = weight;
    i
}

fn parsed(query: &str) -> DashboardQuery {
    let uri: Uri = format!("/?{query}").parse().unwrap();
    Query::<DashboardQuery>::try_from_uri(&uri).unwrap().0
}

fn view(query: &str) -> View {
    parsed(query).parse().unwrap().1
}

fn fleet() -> Arc<Vec<ModelInstance>> {
    let mut all = vec![
        instance("a@llm", "10.0.0.1", 1, true, 1.0),
        instance("a@llm", "10.0.0.2", 1, true, 3.0),
        instance("a@llm", "10.0.0.3", 1, false, 4.0),
        instance("b@llm", "10.0.1.1", 7, true, 0.0),
    ];
    all.sort_by(|x, y| x.key().cmp_key(&y.key()));
    Arc::new(all)
}

fn json(answer: &DashboardAnswer<'_>) -> serde_json::Value {
    serde_json::to_value(answer).unwrap()
}

#[test]
fn models_are_summed_and_instances_paged_and_filtered() {
    let all = fleet();
    let none = Flapping::new();
    let got = json(&answer(7, &all, &view(""), &none, |_| vec![Some(2)]));
    assert_eq!(got["index"], 7);
    assert_eq!(got["totals"]["models"], 2);
    assert_eq!(got["totals"]["instances"], 4);
    assert_eq!(got["totals"]["healthy"], 3);
    let a = &got["models"]["rows"][0];
    assert_eq!(a["model_name"], "a@llm");
    assert_eq!(a["instances"], 3);
    assert_eq!(a["healthy"], 2);
    assert_eq!(a["serving_weight"], 4.0);
    assert_eq!(a["total_weight"], 8.0);
    assert_eq!(a["healthy_history"], serde_json::json!([2]));
    // Weight 0 serves nothing.
    assert_eq!(got["models"]["rows"][1]["serving_weight"], 0.0);
    assert_eq!(got["instances"]["rows"][1]["share"], 0.75);
    assert_eq!(got["instances"]["rows"][2]["share"], 0.0);

    let page = json(&answer(
        7,
        &all,
        &view("model=a@llm&offset=1&limit=1"),
        &none,
        |_| vec![],
    ));
    assert_eq!(page["instances"]["matched"], 3);
    assert_eq!(page["instances"]["rows"].as_array().unwrap().len(), 1);
    assert_eq!(page["instances"]["rows"][0]["host"], "10.0.0.2");

    let unhealthy = json(&answer(
        7,
        &all,
        &view("health=unhealthy"),
        &none,
        |_| vec![],
    ));
    assert_eq!(unhealthy["instances"]["matched"], 1);
    let by_host = json(&answer(
        7,
        &all,
        &view("host=10.0.1.1:7"),
        &none,
        |_| vec![],
    ));
    assert_eq!(by_host["instances"]["matched"], 1);
    assert_eq!(by_host["instances"]["rows"][0]["model_name"], "b@llm");
    let searched = json(&answer(
        7,
        &all,
        &view("model_search=B@"),
        &none,
        |_| vec![],
    ));
    assert_eq!(searched["models"]["matched"], 1);

    let mut flapping = Flapping::new();
    flapping.insert(("a@llm".into(), "10.0.0.3".into(), 1), 4);
    let flaps = json(&answer(
        7,
        &all,
        &view("flapping=true"),
        &flapping,
        |_| vec![],
    ));
    assert_eq!(flaps["instances"]["matched"], 1);
    assert_eq!(flaps["instances"]["rows"][0]["flapping"], 4);
    assert_eq!(flaps["models"]["rows"][0]["flapping"], 1);
    assert_eq!(flaps["totals"]["flapping"], 1);
}

#[test]
fn bad_view_parameters_name_their_field() {
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("model_limit=x", "model_limit"),
        ("offset=-1", "offset"),
        ("health=sick", "health"),
        ("enabled=maybe", "enabled"),
        ("flapping=yes", "flapping"),
    ] {
        let error = parsed(query).parse().unwrap_err();
        assert_eq!(error.field_name(), Some(field), "{query}");
    }
}

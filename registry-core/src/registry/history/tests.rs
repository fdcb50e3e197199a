use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()
}

fn instance(model: &str, port: u16, healthy: bool, at: DateTime<Utc>) -> ModelInstance {
    let mut i = ModelInstance::new(model, "10.0.0.1", port);
    i.healthy = healthy;
    i.last_heartbeat = Some(at);
    i
}

fn kinds(history: &HealthHistory) -> Vec<TransitionKind> {
    let mut all = history.transitions(&TransitionFilter::default(), usize::MAX);
    all.reverse();
    all.into_iter().map(|t| t.kind).collect()
}

#[test]
fn each_kind_of_change_is_one_transition() {
    let history = HealthHistory::new(HistoryConfig::default());
    let t0 = start();
    let a = instance("m@llm", 1, true, t0);
    history.baseline(std::slice::from_ref(&a), t0);
    assert!(
        kinds(&history).is_empty(),
        "a baseline records no transition"
    );

    let t1 = t0 + Duration::seconds(1);
    let b = instance("m@llm", 2, true, t1);
    history.observe(std::slice::from_ref(&a), &[a.clone(), b.clone()], t1);
    // Unhealthy with a recent heartbeat: deregistered; with a stale one: expired.
    let t2 = t1 + Duration::seconds(1);
    let mut b_down = b.clone();
    b_down.healthy = false;
    let mut a_silent = a.clone();
    a_silent.healthy = false;
    let t3 = t0 + Duration::seconds(61);
    history.observe(&[a.clone(), b.clone()], &[a.clone(), b_down.clone()], t2);
    history.observe(
        &[a.clone(), b_down.clone()],
        &[a_silent.clone(), b_down.clone()],
        t3,
    );
    let mut a_back = a.clone();
    a_back.enabled = false;
    a_back.weight = 2.0;
    history.observe(&[a_silent, b_down.clone()], &[a_back.clone(), b_down], t3);
    history.observe(&[a_back], &[], t3);
    assert_eq!(
        kinds(&history),
        [
            TransitionKind::Registered,
            TransitionKind::Deregistered,
            TransitionKind::Expired,
            TransitionKind::Recovered,
            TransitionKind::Disabled,
            TransitionKind::WeightChanged,
            TransitionKind::Deregistered,
        ]
    );
    let totals = history.totals();
    assert_eq!(totals[1], (TransitionKind::Deregistered, 2));
    let only_port_2 = TransitionFilter {
        port: Some(2),
        ..TransitionFilter::default()
    };
    assert_eq!(history.transitions(&only_port_2, 10).len(), 2);
}

#[test]
fn the_history_keeps_its_capacity_and_retention() {
    let config = HistoryConfig {
        capacity: 3,
        ..HistoryConfig::default()
    };
    let history = HealthHistory::new(config);
    let t0 = start();
    let up = instance("m@llm", 1, true, t0);
    let mut down = up.clone();
    down.healthy = false;
    for step in 0..10 {
        let at = t0 + Duration::seconds(step);
        let (a, b) = if step % 2 == 0 {
            (&up, &down)
        } else {
            (&down, &up)
        };
        history.observe(std::slice::from_ref(a), std::slice::from_ref(b), at);
    }
    assert_eq!(kinds(&history).len(), 3, "capacity");
    assert_eq!(history.totals()[1].1 + history.totals()[3].1, 10);
    let later = t0 + Duration::hours(2);
    history.observe(std::slice::from_ref(&up), std::slice::from_ref(&up), later);
    assert!(kinds(&history).is_empty(), "older than the retention");
}

#[test]
fn three_health_transitions_in_the_window_mark_an_instance_flapping() {
    let history = HealthHistory::new(HistoryConfig::default());
    let t0 = start();
    let up = instance("m@llm", 1, true, t0);
    let mut down = up.clone();
    down.healthy = false;
    down.last_heartbeat = None;
    let steady = instance("m@llm", 2, true, t0);
    history.observe(
        &[up.clone(), steady.clone()],
        &[down.clone(), steady.clone()],
        t0,
    );
    history.observe(
        &[down.clone(), steady.clone()],
        &[up.clone(), steady.clone()],
        t0,
    );
    let key = ("m@llm".to_owned(), "10.0.0.1".to_owned(), 1);
    assert!(history.flapping(t0).is_empty(), "two is not yet flapping");
    history.observe(&[up.clone(), steady.clone()], &[down, steady.clone()], t0);
    assert_eq!(history.flapping(t0).get(&key), Some(&3));
    assert!(
        !history
            .flapping(t0)
            .contains_key(&(key.0.clone(), key.1.clone(), 2))
    );
    assert!(
        history.flapping(t0 + Duration::minutes(11)).is_empty(),
        "outside the window"
    );
}

#[test]
fn the_healthy_series_keeps_each_minutes_lowest_count() {
    let history = HealthHistory::new(HistoryConfig::default());
    let t0 = start();
    let two = [
        instance("m@llm", 1, true, t0),
        instance("m@llm", 2, true, t0),
    ];
    let one = [
        instance("m@llm", 1, true, t0),
        instance("m@llm", 2, false, t0),
    ];
    history.baseline(&two, t0);
    history.observe(&two, &one, t0 + Duration::seconds(10));
    history.observe(&one, &two, t0 + Duration::seconds(20));
    history.observe(&two, &two, t0 + Duration::seconds(70));
    history.observe(&two, &[], t0 + Duration::seconds(190));
    let series = history.healthy_series("m@llm", t0 + Duration::seconds(190));
    assert_eq!(series.len(), 60);
    assert_eq!(&series[56..], &[Some(1), Some(2), None, Some(0)]);
    assert!(series[..56].iter().all(Option::is_none));
    assert!(
        history
            .healthy_series("other@llm", t0)
            .iter()
            .all(Option::is_none)
    );
    // A model gone for the whole retention is forgotten.
    history.observe(&[], &[], t0 + Duration::hours(2));
    let gone = history.healthy_series("m@llm", t0 + Duration::hours(2));
    assert!(gone.iter().all(|m| m.is_none_or(|c| c == 0)));
}

#[test]
fn at_most_max_models_series_are_kept() {
    let config = HistoryConfig {
        max_models: 1,
        ..HistoryConfig::default()
    };
    let history = HealthHistory::new(config);
    let t0 = start();
    history.baseline(
        &[
            instance("a@llm", 1, true, t0),
            instance("b@llm", 1, true, t0),
        ],
        t0,
    );
    assert_eq!(history.healthy_series("a@llm", t0)[59], Some(1));
    assert_eq!(history.healthy_series("b@llm", t0)[59], None);
}

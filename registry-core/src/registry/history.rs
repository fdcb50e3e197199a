//! Health over time: a bounded record of the registry's transitions and of each model's healthy
//! count, built by comparing successive readings of the whole registry (the change feed's).
//!
//! It is derived from readings rather than hooked into writes, so a server sharing a database
//! with others records the whole fleet's transitions, expiries by any server's checker
//! included. The cost of that choice: a change undone between two readings (at most one feed
//! interval apart) is not seen, and a server knows no history from before it started.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::instance::{InstanceKey, ModelInstance};

mod series;

use series::ModelSeries;

/// What happened to an instance between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransitionKind {
    /// It appeared (registered, or first heard by a heartbeat).
    Registered,
    /// It was removed, or marked unhealthy while its heartbeats were still recent (DB-GPT's
    /// deregister without removal).
    Deregistered,
    /// It turned unhealthy after its heartbeats stopped for the heartbeat timeout.
    Expired,
    /// It turned healthy again.
    Recovered,
    /// An operator enabled it.
    Enabled,
    /// An operator disabled it.
    Disabled,
    /// Its weight changed.
    WeightChanged,
}

impl TransitionKind {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 7] = [
        Self::Registered,
        Self::Deregistered,
        Self::Expired,
        Self::Recovered,
        Self::Enabled,
        Self::Disabled,
        Self::WeightChanged,
    ];

    /// The kind's name in snake case, as the API and metrics label it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Deregistered => "deregistered",
            Self::Expired => "expired",
            Self::Recovered => "recovered",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::WeightChanged => "weight_changed",
        }
    }

    /// Whether the transition changes whether the instance can serve; these count towards
    /// flapping.
    pub fn is_health(self) -> bool {
        matches!(
            self,
            Self::Registered | Self::Deregistered | Self::Expired | Self::Recovered
        )
    }

    fn slot(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// One transition of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// When the reading that saw it was taken.
    pub at: DateTime<Utc>,
    /// The instance's model.
    pub model_name: String,
    /// The instance's host.
    pub host: String,
    /// The instance's port.
    pub port: u16,
    /// What happened.
    pub kind: TransitionKind,
    /// The instance's weight after it.
    pub weight: f64,
}

impl Transition {
    fn key(&self) -> InstanceKey<'_> {
        InstanceKey {
            model_name: &self.model_name,
            host: &self.host,
            port: self.port,
        }
    }
}

/// The history's bounds and rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryConfig {
    /// The most transitions kept; the oldest go first.
    pub capacity: usize,
    /// How long transitions and healthy counts are kept.
    pub retention: Duration,
    /// An instance with at least this many health transitions within `flap_window` is flapping.
    pub flap_threshold: usize,
    /// See `flap_threshold`.
    pub flap_window: Duration,
    /// The most models whose healthy count is kept (the first by name).
    pub max_models: usize,
    /// An instance turning unhealthy with a heartbeat older than this expired; a newer one was
    /// deregistered.
    pub heartbeat_timeout: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            retention: Duration::hours(1),
            flap_threshold: 3,
            flap_window: Duration::minutes(10),
            max_models: 1000,
            heartbeat_timeout: Duration::seconds(60),
        }
    }
}

/// Which transitions to answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransitionFilter<'a> {
    /// Only this model's.
    pub model_name: Option<&'a str>,
    /// Only this host's.
    pub host: Option<&'a str>,
    /// Only this port's.
    pub port: Option<u16>,
}

impl TransitionFilter<'_> {
    fn matches(&self, t: &Transition) -> bool {
        self.model_name.is_none_or(|m| m == t.model_name)
            && self.host.is_none_or(|h| h == t.host)
            && self.port.is_none_or(|p| p == t.port)
    }
}

/// The bounded history; shared by the change feed, which records into it, and the readers.
#[derive(Debug)]
pub struct HealthHistory {
    config: HistoryConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    transitions: VecDeque<Transition>,
    totals: [u64; TransitionKind::ALL.len()],
    series: BTreeMap<String, ModelSeries>,
}

impl HealthHistory {
    /// An empty history.
    pub fn new(config: HistoryConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Its bounds.
    pub fn config(&self) -> &HistoryConfig {
        &self.config
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a first reading: healthy counts only, as nothing is known of before.
    pub fn baseline(&self, reading: &[ModelInstance], at: DateTime<Utc>) {
        let mut inner = self.inner();
        series::sample(&mut inner.series, reading, at, &self.config);
    }

    /// Records what changed from `before` to `after`, two readings sorted by key, and samples
    /// the healthy counts of `after`.
    pub fn observe(&self, before: &[ModelInstance], after: &[ModelInstance], at: DateTime<Utc>) {
        let found = diff(before, after, at, self.config.heartbeat_timeout);
        let mut inner = self.inner();
        for transition in found {
            inner.totals[transition.kind.slot()] += 1;
            inner.transitions.push_back(transition);
        }
        let oldest = at - self.config.retention;
        while inner.transitions.len() > self.config.capacity
            || inner.transitions.front().is_some_and(|t| t.at < oldest)
        {
            inner.transitions.pop_front();
        }
        series::sample(&mut inner.series, after, at, &self.config);
    }

    /// The kept transitions that match, newest first, at most `limit`.
    pub fn transitions(&self, filter: &TransitionFilter<'_>, limit: usize) -> Vec<Transition> {
        let inner = self.inner();
        inner
            .transitions
            .iter()
            .rev()
            .filter(|t| filter.matches(t))
            .take(limit)
            .cloned()
            .collect()
    }

    /// How many transitions of each kind this history has seen since it started (pruned ones
    /// included).
    pub fn totals(&self) -> [(TransitionKind, u64); TransitionKind::ALL.len()] {
        let inner = self.inner();
        TransitionKind::ALL.map(|kind| (kind, inner.totals[kind.slot()]))
    }

    /// The instances flapping at `at`: health transitions within the flap window, by
    /// `(model, host, port)`, for those at or above the threshold.
    pub fn flapping(&self, at: DateTime<Utc>) -> HashMap<(String, String, u16), usize> {
        let since = at - self.config.flap_window;
        let inner = self.inner();
        let mut counts: HashMap<InstanceKey<'_>, usize> = HashMap::new();
        for transition in inner.transitions.iter().rev() {
            if transition.at < since {
                break;
            }
            if transition.kind.is_health() {
                *counts.entry(transition.key()).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .filter(|(_, count)| *count >= self.config.flap_threshold)
            .map(|(key, count)| {
                (
                    (key.model_name.to_owned(), key.host.to_owned(), key.port),
                    count,
                )
            })
            .collect()
    }

    /// A model's lowest healthy (and enabled) count in each minute of the retention, oldest
    /// first, ending with the minute of `at`; `None` for a minute with no reading.
    pub fn healthy_series(&self, model_name: &str, at: DateTime<Utc>) -> Vec<Option<u32>> {
        let inner = self.inner();
        series::minutes(inner.series.get(model_name), at, &self.config)
    }
}

/// The transitions between two readings sorted by key, merged in one pass.
fn diff(
    before: &[ModelInstance],
    after: &[ModelInstance],
    at: DateTime<Utc>,
    heartbeat_timeout: Duration,
) -> Vec<Transition> {
    use std::cmp::Ordering;
    let mut found = Vec::new();
    let mut record = |instance: &ModelInstance, kind| {
        found.push(Transition {
            at,
            model_name: instance.model_name.clone(),
            host: instance.host.clone(),
            port: instance.port,
            kind,
            weight: instance.weight,
        });
    };
    let (mut old, mut new) = (before.iter().peekable(), after.iter().peekable());
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => a.key().cmp_key(&b.key()),
        };
        match order {
            Ordering::Less => record(old.next().expect("peeked"), TransitionKind::Deregistered),
            Ordering::Greater => record(new.next().expect("peeked"), TransitionKind::Registered),
            Ordering::Equal => {
                let (a, b) = (old.next().expect("peeked"), new.next().expect("peeked"));
                if a.healthy && !b.healthy {
                    let silent = b
                        .last_heartbeat
                        .is_none_or(|last| at - last >= heartbeat_timeout);
                    let kind = if silent {
                        TransitionKind::Expired
                    } else {
                        TransitionKind::Deregistered
                    };
                    record(b, kind);
                } else if !a.healthy && b.healthy {
                    record(b, TransitionKind::Recovered);
                }
                if a.enabled != b.enabled {
                    let kind = if b.enabled {
                        TransitionKind::Enabled
                    } else {
                        TransitionKind::Disabled
                    };
                    record(b, kind);
                }
                if a.weight.to_bits() != b.weight.to_bits() {
                    record(b, TransitionKind::WeightChanged);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests;

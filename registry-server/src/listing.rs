//! Listings shared between requests, and `/v1/models`' stable `created` times.
//!
//! A full listing at 50,000 instances is about 11 MB of JSON. Built once per request, 30
//! clients that ask for it and never read would hold 30 copies until the write timeout closes
//! them. So a listing is built by one request at a time and its bytes are shared: a request
//! for the same listing reuses them when they are under [`REUSE_FOR`] old and no register,
//! deregister or settings write went through this server since. Heartbeats do not invalidate
//! a listing, so `last_heartbeat` in a listing can be up to [`REUSE_FOR`] behind, and a
//! heartbeat that revives an instance shows within that time. Writes through other servers
//! sharing the database show within [`REUSE_FOR`], as on the change feed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// How long a built listing may be reused.
pub(crate) const REUSE_FOR: Duration = Duration::from_secs(1);

/// Distinct listings (by model filter and health filter) kept at once.
const MAX_KEPT: usize = 8;

/// Which listing: the model filter and `healthy_only`.
pub(crate) type ListingKey = (Option<String>, bool);

#[derive(Debug)]
struct Built {
    key: ListingKey,
    generation: u64,
    at: Instant,
    bytes: Bytes,
}

/// The shared listings and the models' first-seen times.
#[derive(Debug, Default)]
pub(crate) struct Listings {
    generation: AtomicU64,
    built: Mutex<Vec<Built>>,
    building: tokio::sync::Mutex<()>,
    created: Mutex<HashMap<String, i64>>,
}

impl Listings {
    /// A write through this server changed the registry: listings built before it are stale.
    pub(crate) fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The listing for `key`: a fresh enough shared one, or one `build` makes now (one build
    /// at a time; requests that arrive meanwhile wait for it and share it).
    pub(crate) async fn get_or_build<E, F, Fut>(
        &self,
        key: ListingKey,
        build: F,
    ) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        if let Some(bytes) = self.reusable(&key) {
            return Ok(bytes);
        }
        let _building = self.building.lock().await;
        if let Some(bytes) = self.reusable(&key) {
            return Ok(bytes);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let bytes = build().await?;
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        built.retain(|entry| entry.key != key && entry.at.elapsed() < REUSE_FOR);
        if built.len() >= MAX_KEPT {
            built.remove(0);
        }
        built.push(Built {
            key,
            generation,
            at: Instant::now(),
            bytes: bytes.clone(),
        });
        Ok(bytes)
    }

    fn reusable(&self, key: &ListingKey) -> Option<Bytes> {
        let generation = self.generation.load(Ordering::Acquire);
        let built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        built
            .iter()
            .find(|entry| {
                entry.key == *key
                    && entry.generation == generation
                    && entry.at.elapsed() < REUSE_FOR
            })
            .map(|entry| entry.bytes.clone())
    }

    /// A stable `created` time for each listed model: the first `seen` this server observed
    /// for it. Models no longer listed are forgotten, which bounds the map by the models
    /// registered.
    pub(crate) fn created_times<'a>(
        &self,
        seen: impl Iterator<Item = (&'a str, i64)>,
    ) -> HashMap<String, i64> {
        let mut created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        let answer: HashMap<String, i64> = seen
            .map(|(model, seen)| {
                let first = *created.entry(model.to_owned()).or_insert(seen);
                (model.to_owned(), first)
            })
            .collect();
        created.retain(|model, _| answer.contains_key(model));
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listing_is_shared_until_a_write_changes_it() {
        let listings = Listings::default();
        let key: ListingKey = (None, false);
        let build =
            |text: &'static str| async move { Ok::<_, ()>(Bytes::from_static(text.as_bytes())) };
        let first = listings
            .get_or_build(key.clone(), || build("one"))
            .await
            .unwrap();
        let again = listings
            .get_or_build(key.clone(), || build("two"))
            .await
            .unwrap();
        assert_eq!(again, first, "the second request shares the first listing");
        let other = listings
            .get_or_build((Some("m".into()), false), || build("m"))
            .await
            .unwrap();
        assert_eq!(other, "m");
        listings.changed();
        let after = listings.get_or_build(key, || build("three")).await.unwrap();
        assert_eq!(after, "three", "a write makes the next request build anew");
    }

    #[test]
    fn created_is_the_first_time_seen_and_forgotten_models_are_dropped() {
        let listings = Listings::default();
        let first = listings.created_times([("a", 100), ("b", 200)].into_iter());
        assert_eq!(first["a"], 100);
        let later = listings.created_times([("a", 150)].into_iter());
        assert_eq!(later["a"], 100, "created does not move with heartbeats");
        let back = listings.created_times([("b", 300)].into_iter());
        assert_eq!(back["b"], 300, "a model that left and came back is new");
    }
}

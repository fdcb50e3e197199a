//! Weighted random choice among healthy, enabled instances.

use crate::instance::ModelInstance;

/// Picks one healthy, enabled instance with probability proportional to its `weight`.
///
/// Instances with a weight of 0 or less (or not finite) are never picked. `draw` must be
/// uniform in `[0, 1)`.
///
/// ```
/// use registry_core::{ModelInstance, pick_weighted};
/// let mut heavy = ModelInstance::new("m", "a", 1);
/// heavy.healthy = true;
/// let mut zero = ModelInstance::new("m", "b", 2);
/// zero.healthy = true;
/// zero.weight = 0.0;
/// let instances = [zero, heavy];
/// assert_eq!(pick_weighted(&instances, 0.99).unwrap().host, "a");
/// ```
pub fn pick_weighted(instances: &[ModelInstance], draw: f64) -> Option<&ModelInstance> {
    let eligible = || instances.iter().filter(|i| i.is_selectable());
    let total: f64 = eligible().map(|i| i.weight).sum();
    if total <= 0.0 {
        return None;
    }
    let mut remaining = draw.clamp(0.0, 1.0) * total;
    let mut last = None;
    for instance in eligible() {
        if remaining < instance.weight {
            return Some(instance);
        }
        remaining -= instance.weight;
        last = Some(instance);
    }
    // Rounding can leave a sliver past the last instance; it belongs to the last one.
    last
}

-- Times are kept from now on as DB-GPT keeps them: naive wall-clock time in the configured
-- zone, no longer UTC. No column changes; the rows this crate stamped in UTC before are moved
-- onto the zone's clock by the storage that applies this migration, which alone knows the zone
-- (see src/legacy_times.rs). This statement changes nothing; it marks the step.
UPDATE dbgpt_cluster_registry_instance SET id = id WHERE 1 = 0;

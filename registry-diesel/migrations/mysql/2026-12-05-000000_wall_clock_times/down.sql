-- The rows stay on the wall clock: going back to an older version means running it with the
-- zone set to UTC (TZ=UTC), or letting each instance's next heartbeat restamp its row.
UPDATE dbgpt_cluster_registry_instance SET id = id WHERE 1 = 0;

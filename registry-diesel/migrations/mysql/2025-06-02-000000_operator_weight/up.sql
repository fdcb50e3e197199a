-- The weight an operator set, if any: registrations keep it instead of the worker's weight.
-- Nullable and unknown to DB-GPT's own model, which ignores columns it does not declare.
ALTER TABLE `dbgpt_cluster_registry_instance`
  ADD COLUMN `operator_weight` double DEFAULT NULL COMMENT 'Weight an operator set; registrations keep it';

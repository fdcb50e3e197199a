-- A register looks for legacy rows of its key whose names are padded with spaces (see
-- src/padded_names.rs), by the trimmed names and the port. MariaDB indexes no expression, so
-- the trimmed names are virtual columns (computed on read, nothing stored in the rows) with
-- an index on them; without it that read scans the whole table on every register. DB-GPT's
-- own model names its columns on insert and select, so it neither sees nor minds these. They
-- compare as the names do (`utf8mb4_bin`, see `unique_instance_key`), not by the table's
-- default collation, which would match `GLM@llm` to `glm@llm`.
ALTER TABLE dbgpt_cluster_registry_instance
    ADD COLUMN trimmed_model_name VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
        AS (TRIM(model_name)) VIRTUAL,
    ADD COLUMN trimmed_host VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
        AS (TRIM(host)) VIRTUAL,
    ADD INDEX ix_registry_trimmed_key (trimmed_model_name, trimmed_host, port);

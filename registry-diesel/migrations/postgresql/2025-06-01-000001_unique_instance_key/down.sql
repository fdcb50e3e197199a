-- Merged rows and filled defaults stay: they are valid DB-GPT data. Narrowing the id fails
-- once ids have passed 2^31, as it should.
DROP INDEX uk_registry_instance_key;
DO $$
DECLARE
    id_sequence TEXT := pg_get_serial_sequence('dbgpt_cluster_registry_instance', 'id');
BEGIN
    IF id_sequence IS NOT NULL THEN
        EXECUTE format('ALTER SEQUENCE %s AS INTEGER', id_sequence);
    END IF;
END
$$;
ALTER TABLE dbgpt_cluster_registry_instance ALTER COLUMN id TYPE INTEGER;

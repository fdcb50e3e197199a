-- Merged rows and filled defaults stay: they are valid DB-GPT data.
DROP INDEX uk_registry_instance_key;

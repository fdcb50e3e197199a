//! What the tests' own storages share: they wrap an `InMemoryStorage` and change a few calls.

/// Implements `Storage<ModelInstance>` for `$storage` by forwarding every call to its
/// `$inner` in-memory storage; `$extra` items (such as `is_blocking`) go in the same impl.
#[macro_export]
macro_rules! forward_storage {
    ($storage:ty => $inner:ident $(, $extra:item)* $(,)?) => {
        impl registry_core::Storage<registry_core::ModelInstance> for $storage {
            fn save(&self, item: &registry_core::ModelInstance) -> Result<(), registry_core::StorageError> {
                self.$inner.save(item)
            }
            fn update(&self, item: &registry_core::ModelInstance) -> Result<(), registry_core::StorageError> {
                self.$inner.update(item)
            }
            fn save_or_update(&self, item: &registry_core::ModelInstance) -> Result<(), registry_core::StorageError> {
                self.$inner.save_or_update(item)
            }
            fn load(
                &self,
                id: &registry_core::ModelInstanceIdentifier,
            ) -> Result<Option<registry_core::ModelInstance>, registry_core::StorageError> {
                self.$inner.load(id)
            }
            fn delete(&self, id: &registry_core::ModelInstanceIdentifier) -> Result<(), registry_core::StorageError> {
                self.$inner.delete(id)
            }
            fn query(
                &self,
                spec: &registry_core::QuerySpec,
            ) -> Result<Vec<registry_core::ModelInstance>, registry_core::StorageError> {
                self.$inner.query(spec)
            }
            fn count(&self, spec: &registry_core::QuerySpec) -> Result<u64, registry_core::StorageError> {
                self.$inner.count(spec)
            }
            $($extra)*
        }
    };
}

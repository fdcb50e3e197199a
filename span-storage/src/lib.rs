//! span-storage (placeholder; filled by its own issue).

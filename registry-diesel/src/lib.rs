//! registry-diesel (placeholder; filled by its own issue).

//! registry-server (placeholder; filled by its own issue).

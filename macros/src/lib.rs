//! Attribute macros for portcullis. Use them through the `portcullis` crate.

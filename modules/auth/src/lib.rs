//! copro-auth (placeholder: filled in by its issue).

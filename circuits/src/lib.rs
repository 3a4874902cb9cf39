//! copro-circuits (placeholder: filled in by its issue).

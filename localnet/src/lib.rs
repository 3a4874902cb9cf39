//! copro-localnet (placeholder: filled in by its issue).

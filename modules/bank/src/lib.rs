//! copro-bank (placeholder: filled in by its issue).

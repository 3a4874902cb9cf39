//! Poseidon gadget (placeholder).

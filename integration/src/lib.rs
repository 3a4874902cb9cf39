//! End-to-end tests against real CometBFT processes live in `tests/`.

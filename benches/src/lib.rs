//! Models shared by the criterion benches (see `benches/benches/`).

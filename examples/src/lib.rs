//! Examples of fastusers: see `examples/quickstart`.

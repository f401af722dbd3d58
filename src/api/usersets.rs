//! Exact user-set aggregates over `bigint` user ids, stored as `bytea` (see
//! `kernels::usersets::encode`).

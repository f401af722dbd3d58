//! Exact user-set aggregates over `bigint` user ids, stored as `bytea` (see
//! `kernels::usersets::encode`).
//!
//! Two-step design: an aggregate builds a summary (`user_set(user_id)`, the exact set of ids as a
//! roaring treemap), small accessors read answers from it (`user_set_count`, `user_set_contains`,
//! ...), and a rollup aggregate (`user_set_union(set)`) merges stored summaries, so hourly sets
//! become daily and monthly ones without rescanning raw rows.
//!
//! Both aggregates keep their state as `internal`: a `RoaringTreemap` boxed on the Rust heap and
//! owned by the aggregate memory context (dropped by a reset callback when that context goes away),
//! so a state is decoded once and updated in place, never re-serialized per row. Each has combine,
//! serialize and deserialize functions and is `PARALLEL SAFE`, so PostgreSQL can split the scan
//! across parallel workers (Partial Aggregate → Gather → Finalize Aggregate), and Citus can run the
//! partial step on its shards. The serialized form is the stored format itself (`encode`).
//!
//! No input rows (or only NULL ids) give NULL, like `sum` or `array_agg`; the accessors are strict,
//! so `coalesce(user_set_count(...), 0)` reads such a group as empty.
//!
//! Bytes that are not a user set raise SQLSTATE 22P03 (invalid_binary_representation), never a
//! panic. The treemap's memory is Rust-heap memory: PostgreSQL's `work_mem` accounting of a hash
//! aggregate does not see it (roughly 2 bytes per id for dense ids, up to 8 for scattered ones).

use crate::errors::raise;
use crate::kernels::usersets::{decode, encode, user_key};
use pgrx::prelude::*;
use pgrx::{Internal, PgMemoryContexts};
use roaring::RoaringTreemap;

type State = RoaringTreemap;

/// The aggregate memory context of the current call; an ERROR outside an aggregate.
fn aggregate_context(fcinfo: pg_sys::FunctionCallInfo, func: &str) -> pg_sys::MemoryContext {
    let mut ctx: pg_sys::MemoryContext = std::ptr::null_mut();
    // SAFETY: fcinfo is the call's own FunctionCallInfo, passed by pgrx.
    let kind = unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut ctx) };
    if kind == 0 || ctx.is_null() {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("mking_analytics.{func} called in non-aggregate context"),
            "It is a support function of the user_set and user_set_union aggregates.",
        );
    }
    ctx
}

/// A new state owned by the aggregate memory context (dropped when that context is reset or
/// deleted), as an `internal` datum.
fn new_state(ctx: pg_sys::MemoryContext, set: State) -> Internal {
    let ptr = PgMemoryContexts::For(ctx).leak_and_drop_on_delete(set);
    Internal::from(Some(pg_sys::Datum::from(ptr)))
}

/// The state behind an `internal` datum made by this module.
///
/// SAFETY: callers pass only `internal` values produced by `new_state` / `user_set_deserialize`
/// (the aggregate definitions below guarantee it; SQL cannot fabricate a non-NULL `internal`).
unsafe fn state_mut(state: &mut Internal) -> Option<&mut State> {
    unsafe { state.get_mut::<State>() }
}

/// Decodes stored bytes; anything that is not a user set is SQLSTATE 22P03.
fn load(bytes: &[u8]) -> State {
    // `decode` reports malformed input as Err; the unwind guard also turns an unexpected panic
    // inside the deserializer into the same user-facing error.
    let decoded = std::panic::catch_unwind(|| decode(bytes))
        .unwrap_or_else(|_| Err("corrupt user set".to_string()));
    match decoded {
        Ok(set) => set,
        Err(e) => raise(
            PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION,
            format!("invalid user set ({} bytes): {e}", bytes.len()),
            "A user set is the bytea made by mking_analytics.user_set() or user_set_union().",
        ),
    }
}

// ---- transition functions -------------------------------------------------------------------

/// SFUNC of `user_set(bigint)`: adds one id; NULL ids are skipped.
#[pg_extern(immutable, parallel_safe)]
pub fn user_set_trans(
    state: Internal,
    user_id: Option<i64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let ctx = aggregate_context(fcinfo, "user_set_trans");
    let mut state = state;
    let Some(id) = user_id else {
        return state;
    };
    // SAFETY: see `state_mut`.
    match unsafe { state_mut(&mut state) } {
        Some(set) => {
            set.insert(user_key(id));
            state
        }
        None => {
            let mut set = State::new();
            set.insert(user_key(id));
            new_state(ctx, set)
        }
    }
}

/// SFUNC of `user_set_union(bytea)`: unions one stored set; NULL sets are skipped.
#[pg_extern(immutable, parallel_safe)]
pub fn user_set_union_trans(
    state: Internal,
    user_set: Option<&[u8]>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let ctx = aggregate_context(fcinfo, "user_set_union_trans");
    let mut state = state;
    let Some(bytes) = user_set else {
        return state;
    };
    let other = load(bytes);
    // SAFETY: see `state_mut`.
    match unsafe { state_mut(&mut state) } {
        Some(set) => {
            *set |= other;
            state
        }
        None => new_state(ctx, other),
    }
}

/// COMBINEFUNC of both aggregates: the union of two partial states. Modifies and returns the
/// first (which lives in the aggregate context); never modifies the second. Not strict: PostgreSQL
/// requires that of combine functions over `internal`, and a NULL side is an empty partial.
#[pg_extern(immutable, parallel_safe)]
pub fn user_set_combine(
    state: Internal,
    other: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let mut state = state;
    // SAFETY: see `state_mut`.
    let Some(o) = (unsafe { other.get::<State>() }) else {
        return state;
    };
    match unsafe { state_mut(&mut state) } {
        Some(set) => {
            *set |= o;
            state
        }
        None => {
            // The other state may live in a shorter-lived context (a deserialized partial):
            // copy it into ours.
            let ctx = aggregate_context(fcinfo, "user_set_combine");
            new_state(ctx, o.clone())
        }
    }
}

/// SERIALFUNC of both aggregates: a partial state as stored bytes (`encode`), to cross from a
/// parallel worker (or a Citus shard) to the node that combines.
#[pg_extern(immutable, parallel_safe, strict)]
pub fn user_set_serialize(state: Internal) -> Option<Vec<u8>> {
    // SAFETY: see `state_mut`.
    unsafe { state.get::<State>() }.map(encode)
}

/// DESERIALFUNC of both aggregates: stored bytes back to a state (PostgreSQL's signature has a
/// second, unused `internal` argument). Corrupt bytes are SQLSTATE 22P03.
#[pg_extern(immutable, parallel_safe, strict)]
pub fn user_set_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    aggregate_context(fcinfo, "user_set_deserialize");
    // Short-lived: PostgreSQL calls this in the per-input-tuple context, and the combine function
    // unions it into (or copies it to) the state in the aggregate context.
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(load(bytes));
    Internal::from(Some(pg_sys::Datum::from(ptr)))
}

/// FINALFUNC of both aggregates: the set as stored bytes; NULL when no id was aggregated
/// (strict: a NULL state never reaches it). Read-only, so it is safe in window aggregates too.
#[pg_extern(immutable, parallel_safe, strict)]
pub fn user_set_final(state: Internal) -> Option<Vec<u8>> {
    // SAFETY: see `state_mut`.
    unsafe { state.get::<State>() }.map(encode)
}

// ---- the aggregates -------------------------------------------------------------------------

pgrx::extension_sql!(
    r#"
CREATE AGGREGATE user_set(bigint) (
    SFUNC = user_set_trans,
    STYPE = internal,
    COMBINEFUNC = user_set_combine,
    SERIALFUNC = user_set_serialize,
    DESERIALFUNC = user_set_deserialize,
    FINALFUNC = user_set_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE user_set(bigint) IS
    'Exact set of the non-NULL user ids aggregated, as a versioned bytea (roaring treemap); NULL for no rows or only NULL ids. Parallel safe (combine, serialize, deserialize). Example: SELECT mking_analytics.user_set_count(mking_analytics.user_set(user_id)) FROM likes;  -- = count(DISTINCT user_id)';

CREATE AGGREGATE user_set_union(bytea) (
    SFUNC = user_set_union_trans,
    STYPE = internal,
    COMBINEFUNC = user_set_combine,
    SERIALFUNC = user_set_serialize,
    DESERIALFUNC = user_set_deserialize,
    FINALFUNC = user_set_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE user_set_union(bytea) IS
    'Rollup: union of stored user sets (from user_set or user_set_union); NULL sets are skipped, NULL when none. Corrupt bytes raise SQLSTATE 22P03. Example (hourly sets to daily counts): SELECT date_trunc(''day'', hour), mking_analytics.user_set_count(mking_analytics.user_set_union(users)) FROM hourly GROUP BY 1;';

COMMENT ON FUNCTION user_set_trans(internal, bigint) IS
    'Support function of the user_set aggregate (transition: adds one id). Not callable directly.';
COMMENT ON FUNCTION user_set_union_trans(internal, bytea) IS
    'Support function of the user_set_union aggregate (transition: unions one stored set). Not callable directly.';
COMMENT ON FUNCTION user_set_combine(internal, internal) IS
    'Support function of user_set and user_set_union (combine: union of two partial states, used by parallel workers and Citus).';
COMMENT ON FUNCTION user_set_serialize(internal) IS
    'Support function of user_set and user_set_union (serialize: partial state to the stored bytea format).';
COMMENT ON FUNCTION user_set_deserialize(bytea, internal) IS
    'Support function of user_set and user_set_union (deserialize: stored bytea to a partial state; corrupt bytes raise SQLSTATE 22P03).';
COMMENT ON FUNCTION user_set_final(internal) IS
    'Support function of user_set and user_set_union (final: state to the stored bytea format).';

COMMENT ON FUNCTION user_set_count(bytea) IS
    'Number of distinct user ids in a user set. Example: SELECT mking_analytics.user_set_count(mking_analytics.user_set(x)) FROM (VALUES (1), (2), (2), (NULL)) v(x);  -- 2';
COMMENT ON FUNCTION user_set_contains(bytea, bigint) IS
    'Whether a user set contains the id. Example: SELECT mking_analytics.user_set_contains(mking_analytics.user_set(x), 2) FROM (VALUES (1), (2)) v(x);  -- true';
COMMENT ON FUNCTION user_set_intersection_count(bytea, bytea) IS
    'Number of ids in both user sets (e.g. day-1 retention: cohort set and next day''s active set). Example: sets {1,2,3} and {3,4} give 1.';
COMMENT ON FUNCTION user_set_to_array(bytea) IS
    'The ids of a user set as a bigint[] in ascending order. Example: SELECT mking_analytics.user_set_to_array(mking_analytics.user_set(x)) FROM (VALUES (3), (-1), (3)) v(x);  -- {-1,3}';
"#,
    name = "usersets_aggregates",
    requires = [
        user_set_trans,
        user_set_union_trans,
        user_set_combine,
        user_set_serialize,
        user_set_deserialize,
        user_set_final,
        user_set_count,
        user_set_contains,
        user_set_intersection_count,
        user_set_to_array,
    ]
);

// ---- accessors ------------------------------------------------------------------------------

/// Number of distinct ids in a stored set.
#[pg_extern(immutable, strict, parallel_safe)]
pub fn user_set_count(user_set: &[u8]) -> i64 {
    load(user_set).len() as i64
}

/// Whether a stored set contains `user_id`.
#[pg_extern(immutable, strict, parallel_safe)]
pub fn user_set_contains(user_set: &[u8], user_id: i64) -> bool {
    load(user_set).contains(user_key(user_id))
}

/// Number of ids in both stored sets.
#[pg_extern(immutable, strict, parallel_safe)]
pub fn user_set_intersection_count(a: &[u8], b: &[u8]) -> i64 {
    load(a).intersection_len(&load(b)) as i64
}

/// The ids of a stored set, ascending as signed `bigint`s.
#[pg_extern(immutable, strict, parallel_safe)]
pub fn user_set_to_array(user_set: &[u8]) -> Vec<i64> {
    signed_ascending(&load(user_set))
}

/// Ids in signed order. The treemap iterates by unsigned key, where negative ids (high bit set)
/// come after every non-negative one, each part already ascending.
fn signed_ascending(set: &State) -> Vec<i64> {
    let mut ids: Vec<i64> = set.iter().map(|k| k as i64).collect();
    let first_negative = ids.partition_point(|&id| id >= 0);
    ids.rotate_left(first_negative);
    ids
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn text(sql: &str) -> String {
        Spi::get_one::<String>(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| "NULL".to_string())
    }

    /// `SQLSTATE: message` of a statement, or `ok`.
    fn outcome(sql: &str) -> String {
        Spi::run(
            "CREATE OR REPLACE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
             BEGIN EXECUTE q; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$",
        )
        .unwrap();
        Spi::get_one_with_args::<String>("SELECT pg_temp.outcome($1)", &[sql.into()])
            .unwrap()
            .unwrap()
    }

    /// The plan of a query as one text (EXPLAIN's lines joined by newlines).
    fn plan(options: &str, sql: &str) -> String {
        Spi::run(
            "CREATE OR REPLACE FUNCTION pg_temp.plan(q text) RETURNS text LANGUAGE plpgsql AS $$
             DECLARE r record; out text := ''; BEGIN
                 FOR r IN EXECUTE q LOOP out := out || r.\"QUERY PLAN\" || E'\\n'; END LOOP;
                 RETURN out; END $$",
        )
        .unwrap();
        Spi::get_one_with_args::<String>(
            "SELECT pg_temp.plan($1)",
            &[format!("EXPLAIN ({options}) {sql}").into()],
        )
        .unwrap()
        .unwrap()
    }

    fn set_of(values: &str) -> String {
        format!("(SELECT mking_analytics.user_set(x) FROM (VALUES {values}) v(x))")
    }

    #[pg_test]
    fn small_sets_nulls_duplicates() {
        let s = set_of("(3::bigint), (1), (NULL), (2), (3), (NULL), (1)");
        assert_eq!(
            text(&format!("SELECT mking_analytics.user_set_count({s})::text")),
            "3"
        );
        assert_eq!(
            text(&format!(
                "SELECT mking_analytics.user_set_to_array({s})::text"
            )),
            "{1,2,3}"
        );
        // the stored bytes are the pinned format: version 1, then roaring's portable treemap
        assert_eq!(
            text(&format!("SELECT encode({s}, 'hex')")),
            "010100000000000000000000003a300000010000000000020010000000010002000300"
        );
        assert_eq!(
            text(&format!(
                "SELECT mking_analytics.user_set_contains({s}, 2)::text || ',' || mking_analytics.user_set_contains({s}, 4)::text"
            )),
            "true,false"
        );
    }

    #[pg_test]
    fn negative_and_extreme_ids() {
        let s = set_of(
            "(-1::bigint), (1), (0), (-9223372036854775808), (9223372036854775807), (-1), (-42)",
        );
        assert_eq!(
            text(&format!("SELECT mking_analytics.user_set_count({s})::text")),
            "6"
        );
        assert_eq!(
            text(&format!(
                "SELECT mking_analytics.user_set_to_array({s})::text"
            )),
            "{-9223372036854775808,-42,-1,0,1,9223372036854775807}"
        );
        assert_eq!(
            text(&format!(
                "SELECT mking_analytics.user_set_contains({s}, -42)::text || ',' || mking_analytics.user_set_contains({s}, 42)::text"
            )),
            "true,false"
        );
    }

    #[pg_test]
    fn empty_input_is_null() {
        assert_eq!(
            text("SELECT (mking_analytics.user_set(x) IS NULL)::text FROM (SELECT 1::bigint WHERE false) t(x)"),
            "true"
        );
        assert_eq!(
            text("SELECT (mking_analytics.user_set(x) IS NULL)::text FROM (VALUES (NULL::bigint), (NULL)) t(x)"),
            "true"
        );
        assert_eq!(
            text("SELECT (mking_analytics.user_set_union(b) IS NULL)::text FROM (VALUES (NULL::bytea)) t(b)"),
            "true"
        );
        assert_eq!(
            text("SELECT coalesce(mking_analytics.user_set_count(mking_analytics.user_set(x)), 0)::text FROM (SELECT 1::bigint WHERE false) t(x)"),
            "0"
        );
        // accessors are strict
        assert_eq!(
            text("SELECT (mking_analytics.user_set_count(NULL) IS NULL AND mking_analytics.user_set_contains(NULL, 1) IS NULL AND mking_analytics.user_set_to_array(NULL) IS NULL)::text"),
            "true"
        );
        // a group of only NULL ids is NULL; the others are sets
        assert_eq!(
            text("SELECT string_agg(g || '=' || coalesce(mking_analytics.user_set_count(s)::text, 'NULL'), ' ' ORDER BY g)
                    FROM (SELECT g, mking_analytics.user_set(x) s FROM (VALUES (1, 5::bigint), (1, 5), (2, NULL), (3, 7), (3, 8)) v(g, x) GROUP BY g) t"),
            "1=1 2=NULL 3=2"
        );
    }

    #[pg_test]
    fn union_and_intersection() {
        let a = set_of("(1::bigint), (2), (3)");
        let b = set_of("(3::bigint), (4), (-5)");
        let u = format!(
            "(SELECT mking_analytics.user_set_union(s) FROM (VALUES ({a}), (NULL), ({b}), ({a})) v(s))"
        );
        assert_eq!(
            text(&format!(
                "SELECT mking_analytics.user_set_count({u}) || ' ' || mking_analytics.user_set_to_array({u})::text"
            )),
            "5 {-5,1,2,3,4}"
        );
        assert_eq!(
            text(&format!(
                "SELECT mking_analytics.user_set_intersection_count({a}, {b})::text"
            )),
            "1"
        );
        assert_eq!(
            text(&format!(
                "SELECT mking_analytics.user_set_intersection_count({a}, {u})::text"
            )),
            "3"
        );
    }

    #[pg_test]
    fn rollup_of_hourly_sets_equals_the_raw_daily_sets() {
        Spi::run(
            "CREATE TABLE public.ev (user_id bigint, at timestamptz);
             INSERT INTO public.ev SELECT CASE WHEN g % 13 = 0 THEN NULL ELSE (g * 7919) % 1000 - 300 END,
                                          '2024-01-01 00:00+00'::timestamptz + (g % 300) * interval '17 minutes'
               FROM generate_series(1, 20000) g;
             CREATE TABLE public.hourly AS
               SELECT date_trunc('hour', at AT TIME ZONE 'UTC') AS hour, mking_analytics.user_set(user_id) AS users
                 FROM public.ev GROUP BY 1;",
        )
        .unwrap();
        let diff = text(
            "SELECT count(*)::text FROM (
                SELECT date_trunc('day', hour) AS day, mking_analytics.user_set_to_array(mking_analytics.user_set_union(users)) AS ids
                  FROM public.hourly GROUP BY 1
                EXCEPT
                SELECT date_trunc('day', at AT TIME ZONE 'UTC'), array_agg(DISTINCT user_id ORDER BY user_id)
                  FROM public.ev WHERE user_id IS NOT NULL GROUP BY 1) d",
        );
        assert_eq!(diff, "0");
        assert_eq!(
            text("SELECT (SELECT mking_analytics.user_set_count(mking_analytics.user_set_union(users)) FROM public.hourly)
                       || '/' || (SELECT count(DISTINCT user_id) FROM public.ev)"),
            "1000/1000"
        );
    }

    #[pg_test]
    fn corrupt_bytes_are_22p03() {
        for (sql, want) in [
            (
                "SELECT mking_analytics.user_set_count('\\x'::bytea)",
                "22P03: invalid user set (0 bytes): empty user set bytes",
            ),
            (
                "SELECT mking_analytics.user_set_count('\\x0201'::bytea)",
                "22P03: invalid user set (2 bytes): unsupported user set format version 2",
            ),
            (
                "SELECT mking_analytics.user_set_to_array('\\x010100'::bytea)",
                "22P03: invalid user set (3 bytes): corrupt user set: failed to fill whole buffer",
            ),
            (
                "SELECT mking_analytics.user_set_contains('\\x01ffffffffffffffff00'::bytea, 1)",
                "22P03: invalid user set (10 bytes): corrupt user set: failed to fill whole buffer",
            ),
            (
                "SELECT mking_analytics.user_set_union(b) FROM (VALUES ('\\x01'::bytea)) v(b)",
                "22P03: invalid user set (1 bytes): corrupt user set: failed to fill whole buffer",
            ),
        ] {
            assert_eq!(outcome(sql), want, "{sql}");
        }
        // the second argument is checked too
        assert!(outcome(
            "SELECT mking_analytics.user_set_intersection_count(mking_analytics.user_set(1), '\\x07'::bytea)"
        )
        .starts_with("22P03: "));
    }

    #[pg_test]
    fn catalog_declares_parallel_safe_partial_aggregation() {
        Spi::run(
            "CREATE FUNCTION pg_temp.pn(f regproc) RETURNS text LANGUAGE sql AS $$ SELECT proname::text FROM pg_proc WHERE oid = f $$",
        )
        .unwrap();
        assert_eq!(
            text(
                "SELECT string_agg(format('%s:%s:%s:%s:%s:%s:%s', p.proname, pg_temp.pn(a.aggtransfn), pg_temp.pn(a.aggcombinefn),
                                          pg_temp.pn(a.aggserialfn), pg_temp.pn(a.aggdeserialfn), pg_temp.pn(a.aggfinalfn), p.proparallel), ' ' ORDER BY p.proname)
                   FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
                  WHERE p.pronamespace = 'mking_analytics'::regnamespace"
            ),
            "user_set:user_set_trans:user_set_combine:user_set_serialize:user_set_deserialize:user_set_final:s \
             user_set_union:user_set_union_trans:user_set_combine:user_set_serialize:user_set_deserialize:user_set_final:s"
        );
        // every function of the family is immutable and parallel safe
        assert_eq!(
            text(
                "SELECT string_agg(proname || ':' || provolatile::text || proparallel::text || CASE WHEN proisstrict THEN 'S' ELSE '-' END, ' ' ORDER BY proname)
                   FROM pg_proc WHERE pronamespace = 'mking_analytics'::regnamespace AND proname LIKE 'user\\_set%' AND prokind = 'f'"
            ),
            "user_set_combine:is- user_set_contains:isS user_set_count:isS user_set_deserialize:isS user_set_final:isS \
             user_set_intersection_count:isS user_set_serialize:isS user_set_to_array:isS user_set_trans:is- user_set_union_trans:is-"
        );
        // SQL cannot call the support functions at all (no value of type internal can be
        // written), so only the aggregates reach them; they still check their call context.
        assert_eq!(
            outcome("SELECT mking_analytics.user_set_trans(NULL::internal, 1::bigint)"),
            "42846: cannot cast type unknown to internal"
        );
    }

    #[pg_test]
    fn forced_parallel_plan_gives_the_same_answer() {
        Spi::run(
            "CREATE TABLE public.pev (user_id bigint, pad int);
             INSERT INTO public.pev SELECT CASE WHEN g % 97 = 0 THEN NULL ELSE (g::bigint * 7919) % 60000 - 20000 END, g
               FROM generate_series(1, 200000) g;
             ANALYZE public.pev;
             SET LOCAL parallel_setup_cost = 0;
             SET LOCAL parallel_tuple_cost = 0;
             SET LOCAL min_parallel_table_scan_size = 0;
             SET LOCAL max_parallel_workers_per_gather = 2;
             SET LOCAL force_parallel_mode = on;",
        )
        .unwrap();
        let q = "SELECT mking_analytics.user_set_count(mking_analytics.user_set(user_id))::text FROM public.pev";
        let p = plan("COSTS OFF", q);
        assert!(p.contains("Partial Aggregate"), "{p}");
        assert!(p.contains("Gather"), "{p}");
        assert!(p.contains("Workers Planned: 2"), "{p}");
        // and workers really ran it (inside this test's transaction, on uncommitted rows)
        let analyzed = plan("ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF", q);
        assert!(analyzed.contains("Workers Launched: 2"), "{analyzed}");
        let parallel = text(q);
        let with_arrays = text(
            "SELECT (mking_analytics.user_set_to_array(mking_analytics.user_set(user_id))
                     = (SELECT array_agg(DISTINCT user_id ORDER BY user_id) FROM public.pev WHERE user_id IS NOT NULL))::text FROM public.pev",
        );
        // the rollup aggregate in parallel too, over per-bucket sets
        Spi::run(
            "CREATE TABLE public.pbuckets AS SELECT pad % 1000 AS b, mking_analytics.user_set(user_id) AS s FROM public.pev GROUP BY 1;
             ANALYZE public.pbuckets;",
        )
        .unwrap();
        let uq = "SELECT mking_analytics.user_set_count(mking_analytics.user_set_union(s))::text FROM public.pbuckets";
        let up = plan("COSTS OFF", uq);
        assert!(up.contains("Partial Aggregate"), "{up}");
        let union_parallel = text(uq);
        Spi::run(
            "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL force_parallel_mode = off",
        )
        .unwrap();
        assert!(!plan("COSTS OFF", q).contains("Partial Aggregate"));
        let serial = text(q);
        let distinct = text("SELECT count(DISTINCT user_id)::text FROM public.pev");
        assert_eq!(distinct, "60000");
        assert_eq!(parallel, distinct);
        assert_eq!(serial, distinct);
        assert_eq!(with_arrays, "true");
        assert_eq!(union_parallel, distinct);
    }
}

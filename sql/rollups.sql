-- mking_analytics: exact incremental rollups and their change capture.
--
-- Rollups hold, per source and UTC hour, the exact set of acting users (roaring, see
-- kernels::usersets::encode) and the number of distinct events. They are complete for every hour
-- before rollup_state.through, except hours listed in rollup_changes: those changed since the last
-- refresh and are read from the raw table at query time, so answers stay exact up to the last
-- committed row. Change capture = statement-level triggers with transition tables, which see
-- late-committing transactions, old timestamps, updates and deletes at the cost of one small
-- INSERT per statement.

CREATE TABLE rollup_state (
    source_name text PRIMARY KEY,
    signature   text NOT NULL,
    through     timestamptz,
    refreshed_at timestamptz
);
COMMENT ON TABLE rollup_state IS
    'Per source: the configuration the rollups were built for (signature) and the hour up to which they are complete (through; NULL = being built, read raw).';

CREATE TABLE rollup_hours (
    source_name text NOT NULL,
    hour        timestamptz NOT NULL,
    users       bytea NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (source_name, hour)
);
COMMENT ON TABLE rollup_hours IS
    'Per source and UTC hour: the exact set of acting users (versioned roaring bytea) and the count of distinct events (same user, target, time once).';

CREATE TABLE rollup_changes (
    id          bigserial PRIMARY KEY,
    source_name text NOT NULL,
    hour        timestamptz NOT NULL,
    target      bigint
);
CREATE INDEX rollup_changes_source_hour_idx ON rollup_changes (source_name, hour);
COMMENT ON TABLE rollup_changes IS
    'Change capture log: hours of a source touched by INSERT, UPDATE or DELETE since the last refresh (and, for removed or changed rows, their integer target). Queries read those hours raw; refresh_rollups() recomputes them and removes the entries it saw.';

CREATE TABLE rollup_target_totals (
    source_name text NOT NULL,
    target      bigint NOT NULL,
    events      bigint NOT NULL,
    actors      bigint NOT NULL,
    PRIMARY KEY (source_name, target)
);
CREATE INDEX rollup_target_totals_actors_idx ON rollup_target_totals (source_name, actors DESC, target);
COMMENT ON TABLE rollup_target_totals IS
    'Per like/comment/share/follow source and target (post or followed user): distinct events and distinct acting users before rollup_state.through. Top content and most-followed read it when no older hour changed since the refresh.';

-- The signature of a source's rollups: what they were computed from.
CREATE FUNCTION rollup_signature(s sources, source_tz text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT concat_ws('|', to_regclass(s.relation)::oid::text, s.user_column, s.time_column,
                     coalesce(s.target_column, ''), source_tz)
$$;
COMMENT ON FUNCTION rollup_signature(sources, text) IS 'Identity of a source''s rollups: relation oid, columns and the source time zone they were built with.';

CREATE FUNCTION install_change_capture() RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $install$
DECLARE
    s        mking_analytics.sources;
    rel      regclass;
    coltype  text;
    abs_expr text;
    fn       text;
    sig      text;
    tz       text := coalesce(nullif(current_setting('mking_analytics.source_timezone', true), ''), 'UTC');
    t        text;
    old_target text;
BEGIN
    FOR s IN SELECT * FROM mking_analytics.sources WHERE enabled ORDER BY source_name LOOP
        rel := to_regclass(s.relation);
        IF rel IS NULL THEN
            RAISE NOTICE 'change capture: source "%" skipped, relation % does not exist', s.source_name, s.relation;
            CONTINUE;
        END IF;
        SELECT format_type(a.atttypid, NULL) INTO coltype FROM pg_attribute a
         WHERE a.attrelid = rel AND a.attname = s.time_column AND a.attnum > 0 AND NOT a.attisdropped;
        IF coltype IS NULL THEN
            RAISE NOTICE 'change capture: source "%" skipped, no column % in %', s.source_name, s.time_column, rel;
            CONTINUE;
        END IF;
        -- Removed or changed rows also log their integer target, so per-target totals can be redone.
        old_target := 'NULL::bigint';
        IF s.target_column IS NOT NULL AND EXISTS (
               SELECT 1 FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = s.target_column
                  AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)) THEN
            old_target := format('%I::bigint', s.target_column);
        END IF;
        abs_expr := CASE WHEN coltype = 'timestamp with time zone' THEN format('%I', s.time_column)
                         ELSE format('(%I::timestamp AT TIME ZONE %L)', s.time_column, tz) END;
        fn := format('mking_analytics.%I', 'capture_' || s.source_name);
        -- SECURITY DEFINER so the platform's writers need no rights on our log; search_path pinned.
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION %s() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
            BEGIN
                IF TG_OP = 'TRUNCATE' THEN
                    -- The source and the combined activity rollup are rebuilt by the next refresh.
                    UPDATE mking_analytics.rollup_state SET through = NULL WHERE source_name IN (%L, '*any');
                    DELETE FROM mking_analytics.rollup_hours WHERE source_name = '*any';
                    DELETE FROM mking_analytics.rollup_days WHERE source_name IN (%L, '*any');
                    DELETE FROM mking_analytics.rollup_hours WHERE source_name = %L;
                    DELETE FROM mking_analytics.rollup_target_totals WHERE source_name = %L;
                    RETURN NULL;
                END IF;
                -- New rows of the current hour or later need no entry: hours from the oldest
                -- running transaction's on are never rolled up yet (refresh_rollups() keeps its
                -- watermark there), so they are read raw and folded in when the watermark passes.
                IF TG_OP IN ('INSERT', 'UPDATE') THEN
                    INSERT INTO mking_analytics.rollup_changes (source_name, hour)
                    SELECT DISTINCT %L, date_trunc('hour', x.t, 'UTC')
                      FROM (SELECT %s AS t FROM new_rows) x
                     WHERE x.t < date_trunc('hour', clock_timestamp(), 'UTC');
                END IF;
                IF TG_OP IN ('UPDATE', 'DELETE') THEN
                    INSERT INTO mking_analytics.rollup_changes (source_name, hour, target)
                    SELECT DISTINCT %L, date_trunc('hour', %s, 'UTC'), %s FROM old_rows WHERE %I IS NOT NULL;
                END IF;
                RETURN NULL;
            END $body$
        $f$,
            fn, s.source_name, s.source_name, s.source_name, s.source_name, s.source_name, abs_expr, s.source_name, abs_expr, old_target, s.time_column);
        -- Generated functions join the extension, so DROP EXTENSION removes them and their triggers.
        IF NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = to_regprocedure(fn || '()')
                          AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') THEN
            EXECUTE format('ALTER EXTENSION mking_analytics ADD FUNCTION %s()', fn);
        END IF;
        EXECUTE format('COMMENT ON FUNCTION %s() IS %L', fn,
                       format('Change capture of source "%s" (generated by install_change_capture()).', s.source_name));
        FOREACH t IN ARRAY ARRAY['ins', 'upd', 'del', 'trunc'] LOOP
            IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'mking_analytics_' || s.source_name || '_' || t) THEN
                EXECUTE format('DROP TRIGGER %I ON %s', 'mking_analytics_' || s.source_name || '_' || t, rel);
            END IF;
        END LOOP;
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                       'mking_analytics_' || s.source_name || '_ins', rel, fn);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                       'mking_analytics_' || s.source_name || '_upd', rel, fn);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                       'mking_analytics_' || s.source_name || '_del', rel, fn);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                       'mking_analytics_' || s.source_name || '_trunc', rel, fn);
        sig := mking_analytics.rollup_signature(s, tz);
        INSERT INTO mking_analytics.rollup_state AS st (source_name, signature, through)
        VALUES (s.source_name, sig, NULL)
        ON CONFLICT (source_name) DO UPDATE
           SET signature = EXCLUDED.signature,
               through = CASE WHEN st.signature = EXCLUDED.signature THEN st.through END;
        DELETE FROM mking_analytics.rollup_hours h USING mking_analytics.rollup_state st
         WHERE h.source_name = st.source_name AND st.source_name = s.source_name AND st.through IS NULL;
        RETURN NEXT s.source_name;
    END LOOP;
    -- Sources no longer enabled lose their rollups.
    DELETE FROM mking_analytics.rollup_hours WHERE source_name NOT IN (SELECT source_name FROM mking_analytics.sources WHERE enabled);
    DELETE FROM mking_analytics.rollup_state WHERE source_name NOT IN (SELECT source_name FROM mking_analytics.sources WHERE enabled);
END $install$;
COMMENT ON FUNCTION install_change_capture() IS
    'Admins: (re)install the change-capture triggers on every enabled source relation and reset rollups whose configuration changed. Called by schedule() and by refresh_rollups() when sources change.';

CREATE FUNCTION remove_change_capture() RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT t.tgname, t.tgrelid::regclass AS rel FROM pg_trigger t
              WHERE t.tgname LIKE 'mking\_analytics\_%' AND NOT t.tgisinternal LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', r.tgname, r.rel);
        RETURN NEXT r.tgname || ' on ' || r.rel::text;
    END LOOP;
    DELETE FROM mking_analytics.rollup_hours;
    DELETE FROM mking_analytics.rollup_device_hours;
    DELETE FROM mking_analytics.rollup_target_totals;
    DELETE FROM mking_analytics.rollup_posts;
    DELETE FROM mking_analytics.rollup_days;
    DELETE FROM mking_analytics.rollup_state;
    DELETE FROM mking_analytics.rollup_changes;
END $$;
COMMENT ON FUNCTION remove_change_capture() IS 'Admins: drop every change-capture trigger and all rollups (queries then read the raw tables).';

-- Every pg_cron job of mking_analytics, by feature. schedule() registers what these return; each
-- feature's SQL file defines its own function (alerts.sql: alert_jobs(), reports.sql: report_jobs()).
CREATE FUNCTION rollup_jobs() RETURNS TABLE (job_name text, job_schedule text, command text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'mking_analytics_refresh_rollups', '* * * * *', 'SELECT * FROM mking_analytics.refresh_rollups()'
$$;
COMMENT ON FUNCTION rollup_jobs() IS 'The pg_cron job schedule() registers for the rollups: a refresh every minute.';

-- pg_cron records every run in cron.job_run_details and never prunes it. Our jobs alone add about
-- 3,200 rows a day (the refresh and the alert loop every minute, reports every 5 minutes), so a
-- nightly job keeps a week of them.
CREATE FUNCTION prune_job_log(keep interval DEFAULT '7 days') RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed bigint;
BEGIN
    IF keep IS NULL OR keep < interval '0' OR keep > interval '100 years' THEN
        RAISE EXCEPTION 'invalid keep %: give an interval from 0 to 100 years', coalesce(quote_literal(keep::text), 'NULL')
            USING ERRCODE = '22023', HINT = 'Runs that ended longer ago than keep are deleted, e.g. prune_job_log(''7 days'').';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN 0;
    END IF;
    -- Only finished runs of our jobs in this database; pg_cron's row security limits a
    -- non-superuser to the runs of its own jobs.
    EXECUTE 'DELETE FROM cron.job_run_details d USING cron.job j
              WHERE j.jobid = d.jobid AND j.jobname LIKE ''mking\_analytics\_%'' AND j.database = current_database()
                AND d.end_time < now() - $1'
        USING keep;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END $$;
COMMENT ON FUNCTION prune_job_log(interval) IS
    'Admins and the nightly pg_cron job: delete the cron.job_run_details rows of mking_analytics'' jobs in this database that ended more than keep ago (default 7 days). Returns the rows deleted; 0 without pg_cron.';

CREATE FUNCTION maintenance_jobs() RETURNS TABLE (job_name text, job_schedule text, command text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'mking_analytics_prune_job_log', '17 3 * * *', 'SELECT mking_analytics.prune_job_log()'
$$;
COMMENT ON FUNCTION maintenance_jobs() IS 'The pg_cron job schedule() registers for housekeeping: prune_job_log() at 03:17 GMT every night.';

CREATE FUNCTION schedule() RETURNS TABLE (job_name text, job_schedule text, command text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = '55000',
                  HINT = 'Install postgresql-15-cron, set shared_preload_libraries = ''pg_cron'' and cron.database_name in postgresql.conf, restart, then CREATE EXTENSION pg_cron; and call mking_analytics.schedule() again.';
    END IF;
    PERFORM mking_analytics.install_change_capture();
    FOR j IN
        SELECT * FROM mking_analytics.rollup_jobs()
        UNION ALL SELECT * FROM mking_analytics.alert_jobs()
        UNION ALL SELECT * FROM mking_analytics.report_jobs()
        UNION ALL SELECT * FROM mking_analytics.maintenance_jobs()
    LOOP
        IF current_database() = current_setting('cron.database_name', true) THEN
            PERFORM cron.schedule(j.job_name, j.job_schedule, j.command);
        ELSE
            PERFORM cron.schedule_in_database(j.job_name, j.job_schedule, j.command, current_database());
        END IF;
        job_name := j.job_name;
        job_schedule := j.job_schedule;
        command := j.command;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION schedule() IS
    'Admins: install change capture and register (or update) every pg_cron job of mking_analytics: rollup refresh, alert evaluation, reports, nightly pruning of their run log. Safe to call again: jobs are upserted by name. Needs pg_cron.';

CREATE FUNCTION unschedule() RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    FOR j IN EXECUTE 'SELECT jobid, jobname FROM cron.job WHERE jobname LIKE ''mking\_analytics\_%'' AND database = current_database()' LOOP
        PERFORM cron.unschedule(j.jobid);
        RETURN NEXT j.jobname;
    END LOOP;
END $$;
COMMENT ON FUNCTION unschedule() IS 'Admins: remove every pg_cron job of mking_analytics in this database. Returns the job names removed.';

CREATE TABLE rollup_device_hours (
    hour           timestamptz NOT NULL,
    device_type    text NOT NULL,
    sessions       bigint NOT NULL,
    users          bytea NOT NULL,
    time_spent_sum bigint NOT NULL,
    time_spent_n   bigint NOT NULL,
    page_views_sum bigint NOT NULL,
    page_views_n   bigint NOT NULL,
    PRIMARY KEY (hour, device_type)
);
COMMENT ON TABLE rollup_device_hours IS
    'Per UTC hour and device type of the session source: sessions (duplicates removed), exact user set, sums and counts of time spent and page views. Kept with the session source''s hourly rollup.';

CREATE TABLE rollup_posts (
    post_id      bigint PRIMARY KEY,
    author_id    bigint,
    content_type text,
    created_at   timestamptz NOT NULL,
    likes        bigint NOT NULL,
    comments     bigint NOT NULL,
    shares       bigint NOT NULL
);
CREATE INDEX rollup_posts_created_at_idx ON rollup_posts (created_at);
COMMENT ON TABLE rollup_posts IS
    'Posts published before the watermark with the likes, comments and shares they received before it (duplicates removed). Top content and content types read it plus the rows since the watermark.';

CREATE TABLE rollup_days (
    source_name text NOT NULL,
    day         timestamptz NOT NULL,
    zone        text NOT NULL,
    users       bytea NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (source_name, day)
);
COMMENT ON TABLE rollup_days IS
    'Whole days of the owners'' zone (the refreshing session''s TimeZone, in zone): union of the day''s hourly sets and sum of its events. Reads in that zone use a day row instead of its 24 hours when none of them changed.';

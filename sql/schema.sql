-- mking_analytics: tables, source configuration and roles.
-- Loaded first (bootstrap) by the extension script; the Rust functions follow.

-- ---------------------------------------------------------------------------------------------
-- Roles. Roles are cluster-wide: a second database's install finds them and must not fail.
-- ---------------------------------------------------------------------------------------------
DO $roles$
BEGIN
    BEGIN
        CREATE ROLE mking_analytics_reader NOLOGIN;
    EXCEPTION WHEN duplicate_object THEN NULL;
    END;
    BEGIN
        CREATE ROLE mking_analytics_admin NOLOGIN;
    EXCEPTION WHEN duplicate_object THEN NULL;
    END;
    IF NOT pg_has_role('mking_analytics_admin', 'mking_analytics_reader', 'MEMBER') THEN
        GRANT mking_analytics_reader TO mking_analytics_admin;
    END IF;
END
$roles$;
COMMENT ON ROLE mking_analytics_reader IS
    'mking_analytics: may run every analytic function and read results (read-only analysts, Grafana).';
COMMENT ON ROLE mking_analytics_admin IS
    'mking_analytics: reader rights plus changing configuration (sources), rules and schedules.';

-- ---------------------------------------------------------------------------------------------
-- Source configuration: where the platform's events live. Changing it is configuration, not code.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE sources (
    source_name   text PRIMARY KEY CHECK (source_name ~ '^[a-z][a-z0-9_]*$' AND source_name <> 'any'),
    relation      text NOT NULL,
    user_column   text NOT NULL,
    time_column   text NOT NULL,
    target_column text,
    columns       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(columns) = 'object'),
    is_activity   boolean NOT NULL DEFAULT true,
    enabled       boolean NOT NULL DEFAULT true,
    is_default    boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sources IS
    'Where each event source lives. Defaults point at the platform tables in public; change them with set_source() or UPDATE (admins), restore with reset_sources().';
COMMENT ON COLUMN sources.source_name IS 'Source name used in events => ARRAY[...]: signup, session, post, like, comment, share, follow, or your own.';
COMMENT ON COLUMN sources.relation IS 'Table or view holding the events, schema-qualified (e.g. public.likes).';
COMMENT ON COLUMN sources.user_column IS 'Integer column with the acting user (the follower for follows, the new user for signups).';
COMMENT ON COLUMN sources.time_column IS 'When the event happened: timestamptz, or timestamp holding mking_analytics.source_timezone (UTC by default).';
COMMENT ON COLUMN sources.target_column IS 'What the action was on (post_id, following_id, session_id); part of the duplicate key (source, user, target, time).';
COMMENT ON COLUMN sources.columns IS 'Further named columns a family reads, e.g. {"title":"title","content_type":"content_type"} for post, {"device_type":"device_type","page_views":"page_views","time_spent":"time_spent"} for session, {"username":"username"} for signup.';
COMMENT ON COLUMN sources.is_activity IS 'Whether rows of this source make their user active (all defaults but signup).';
COMMENT ON COLUMN sources.enabled IS 'Disabled sources are ignored everywhere.';
COMMENT ON COLUMN sources.is_default IS 'True while the row is the shipped default: a default source whose table is missing is skipped with a NOTICE; a configured one is an error.';

INSERT INTO sources (source_name, relation, user_column, time_column, target_column, columns, is_activity, is_default) VALUES
    ('signup',  'public.users',              'id',          'created_at', NULL,           '{"username":"username"}', false, true),
    ('session', 'public.user_behavior_logs', 'user_id',     'created_at', 'session_id',   '{"device_type":"device_type","page_views":"page_views","time_spent":"time_spent"}', true, true),
    ('post',    'public.posts',              'user_id',     'created_at', 'id',           '{"title":"title","content_type":"content_type","like_count":"like_count","comment_count":"comment_count","share_count":"share_count"}', true, true),
    ('like',    'public.likes',              'user_id',     'created_at', 'post_id',      '{}', true, true),
    ('comment', 'public.comments',           'user_id',     'created_at', 'post_id',      '{}', true, true),
    ('share',   'public.shares',             'user_id',     'created_at', 'post_id',      '{}', true, true),
    ('follow',  'public.follows',            'follower_id', 'created_at', 'following_id', '{}', true, true);

-- A row changed by hand is no longer the shipped default: a missing table then is an error.
CREATE FUNCTION sources_mark_configured() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.relation, NEW.user_column, NEW.time_column, NEW.target_column, NEW.columns)
           IS NOT DISTINCT FROM (OLD.relation, OLD.user_column, OLD.time_column, OLD.target_column, OLD.columns)
       AND NEW.is_default = OLD.is_default THEN
        NEW.updated_at := now();
        RETURN NEW;  -- only enabled/is_activity toggled: still the default mapping
    END IF;
    IF current_setting('mking_analytics.resetting_sources', true) IS DISTINCT FROM 'on' THEN
        NEW.is_default := false;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER sources_mark_configured BEFORE INSERT OR UPDATE ON sources
    FOR EACH ROW EXECUTE FUNCTION sources_mark_configured();

-- Why reading relation `rel` (columns `cols`) as the current role could run code that another
-- role wrote, or NULL when it cannot. refresh_rollups() and evaluate_alerts() run as the
-- extension's owner (SECURITY DEFINER, normally a superuser), and pg_cron may run them as a
-- superuser: functions inside a view, row-security policies, foreign tables and casts of
-- user-defined types run with the reader's rights, not their author's. So, for such a reader,
-- a relation is trusted when a superuser or the reader owns it, or when it is a table or
-- materialized view without row security whose used columns have built-in types (or enums).
-- Only such readers need the check (reads_elevated()); callers test that once, as an uncorrelated
-- subquery, so analysts' calls do not pay a function call per source.

-- The role that reads sources inside refresh_rollups() and evaluate_alerts() (SECURITY DEFINER).
CREATE FUNCTION extension_owner() RETURNS name
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT e.extowner::regrole::name FROM pg_extension e WHERE e.extname = 'mking_analytics'
$$;
COMMENT ON FUNCTION extension_owner() IS
    'Internal: the extension''s owner, the role refresh_rollups() and evaluate_alerts() read sources as.';

CREATE FUNCTION reads_elevated() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.rolsuper OR r.rolname = mking_analytics.extension_owner()
    FROM pg_roles r WHERE r.rolname = current_user
$$;
COMMENT ON FUNCTION reads_elevated() IS
    'Internal: true when the current role is a superuser or owns the extension (as inside refresh_rollups() and evaluate_alerts()), so sources are checked with source_trust_problem().';

CREATE FUNCTION source_trust_problem(rel oid, cols text[], reader name DEFAULT current_user) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        -- Whoever owns it: the scheduled jobs run in other sessions, which cannot read it.
        WHEN c.relpersistence = 't'
            THEN format('%s is a temporary relation, visible only to the session that created it', c.oid::regclass)
        WHEN c.relowner = (SELECT r.oid FROM pg_roles r WHERE r.rolname = reader)
             OR (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = c.relowner)
            THEN NULL
        WHEN c.relkind NOT IN ('r', 'p', 'm')
            THEN format('%s is a %s owned by %s, not by a superuser: its code would run with the rights of %s',
                        c.oid::regclass, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'f' THEN 'foreign table' ELSE 'relation' END,
                        c.relowner::regrole, reader)
        WHEN c.relrowsecurity
            THEN format('%s has row-level security and is owned by %s, not by a superuser: its policies would run with the rights of %s',
                        c.oid::regclass, c.relowner::regrole, reader)
        ELSE (SELECT format('column %I of %s has the user-defined type %s', a.attname, c.oid::regclass, format_type(a.atttypid, NULL))
                FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
               WHERE a.attrelid = c.oid AND a.attname = ANY (cols) AND a.attnum > 0 AND NOT a.attisdropped
                 AND t.oid >= 16384 AND t.typtype <> 'e'
               LIMIT 1)
    END
    FROM pg_class c
    WHERE c.oid = rel
$$;
COMMENT ON FUNCTION source_trust_problem(oid, text[], name) IS
    'Internal: for a reader with reads_elevated() (default: the current role), why reading a source relation could run code another role wrote (a view, foreign table, row-security policy or user-defined column type not owned by a superuser), or NULL. Sources with a problem are refused with SQLSTATE 42501.';

CREATE FUNCTION set_source(
    source_name   text,
    relation      text,
    user_column   text,
    time_column   text,
    target_column text DEFAULT NULL,
    columns       jsonb DEFAULT NULL,
    enabled       boolean DEFAULT true,
    is_activity   boolean DEFAULT NULL
) RETURNS sources
-- Not SECURITY DEFINER, so the caller's search_path resolves an unqualified relation name; the
-- relation is stored schema-qualified.
LANGUAGE plpgsql AS $$
DECLARE
    rel   regclass;
    col   text;
    qualified text;
    problem text;
    activity boolean;
    result mking_analytics.sources;
BEGIN
    IF source_name IS NULL OR source_name !~ '^[a-z][a-z0-9_]*$' OR source_name = 'any' THEN
        RAISE EXCEPTION 'invalid source_name %: use lower-case letters, digits and _ (not "any")', quote_nullable(source_name)
            USING ERRCODE = '22023';
    END IF;
    rel := to_regclass(relation);
    IF rel IS NULL THEN
        RAISE EXCEPTION 'source "%": relation % does not exist', source_name, quote_nullable(relation)
            USING ERRCODE = '42P01', HINT = 'Pass an existing table or view, schema-qualified, e.g. ''public.likes''.';
    END IF;
    FOR col IN SELECT c FROM unnest(ARRAY[user_column, time_column, target_column]) c WHERE c IS NOT NULL
               UNION ALL SELECT v FROM jsonb_each_text(coalesce(columns, '{}'::jsonb)) AS e(k, v) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'source "%": column % does not exist in %', source_name, quote_ident(col), rel::text
                USING ERRCODE = '42703';
        END IF;
    END LOOP;
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO qualified
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
    -- Analysts' calls read it with their own rights and may use it; the SECURITY DEFINER refresh
    -- and evaluator will refuse it: say so now, not at the next scheduled run.
    problem := mking_analytics.source_trust_problem(rel, ARRAY[user_column, time_column, target_column]
                   || ARRAY(SELECT v FROM jsonb_each_text(coalesce(columns, '{}'::jsonb)) AS e(k, v)),
                   mking_analytics.extension_owner());
    IF problem IS NOT NULL THEN
        RAISE WARNING 'source "%": refresh_rollups() and evaluate_alerts() will refuse it: %', source_name, problem
            USING HINT = 'Point the source at a table, or have a superuser own the view.';
    END IF;
    -- NULL keeps what the source was; a new source is activity unless it is the signup source.
    activity := coalesce(is_activity,
                         (SELECT x.is_activity FROM mking_analytics.sources x WHERE x.source_name = set_source.source_name),
                         set_source.source_name <> 'signup');
    INSERT INTO mking_analytics.sources AS s (source_name, relation, user_column, time_column, target_column, columns, enabled, is_activity, is_default)
    VALUES (set_source.source_name, qualified, user_column, time_column, target_column, coalesce(columns, '{}'::jsonb), enabled, activity, false)
    ON CONFLICT ON CONSTRAINT sources_pkey DO UPDATE
       SET relation = EXCLUDED.relation, user_column = EXCLUDED.user_column, time_column = EXCLUDED.time_column,
           target_column = EXCLUDED.target_column, columns = EXCLUDED.columns, enabled = EXCLUDED.enabled,
           is_activity = EXCLUDED.is_activity, is_default = false
    RETURNING s.* INTO result;
    RAISE NOTICE 'source "%" now reads %; run mking_analytics.grant_source_access() so analysts can read it', source_name, qualified;
    RETURN result;
END $$;
COMMENT ON FUNCTION set_source(text, text, text, text, text, jsonb, boolean, boolean) IS
    'Admins: point a source at a table and its columns, or register a new source (checked on the spot; the relation is resolved with your search_path and stored schema-qualified; is_activity NULL keeps the current setting, for a new source true except signup). Example: SELECT mking_analytics.set_source(''like'', ''app.reactions'', ''member_id'', ''reacted_at'', ''item_id'');';

CREATE FUNCTION reset_sources() RETURNS SETOF sources
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM set_config('mking_analytics.resetting_sources', 'on', true);
    DELETE FROM mking_analytics.sources;
    INSERT INTO mking_analytics.sources (source_name, relation, user_column, time_column, target_column, columns, is_activity, is_default) VALUES
        ('signup',  'public.users',              'id',          'created_at', NULL,           '{"username":"username"}', false, true),
        ('session', 'public.user_behavior_logs', 'user_id',     'created_at', 'session_id',   '{"device_type":"device_type","page_views":"page_views","time_spent":"time_spent"}', true, true),
        ('post',    'public.posts',              'user_id',     'created_at', 'id',           '{"title":"title","content_type":"content_type","like_count":"like_count","comment_count":"comment_count","share_count":"share_count"}', true, true),
        ('like',    'public.likes',              'user_id',     'created_at', 'post_id',      '{}', true, true),
        ('comment', 'public.comments',           'user_id',     'created_at', 'post_id',      '{}', true, true),
        ('share',   'public.shares',             'user_id',     'created_at', 'post_id',      '{}', true, true),
        ('follow',  'public.follows',            'follower_id', 'created_at', 'following_id', '{}', true, true);
    PERFORM set_config('mking_analytics.resetting_sources', 'off', true);
    RETURN QUERY SELECT * FROM mking_analytics.sources ORDER BY source_name;
END $$;
COMMENT ON FUNCTION reset_sources() IS 'Admins: restore the shipped default sources (the platform tables in public).';

CREATE FUNCTION grant_source_access(grantee name DEFAULT 'mking_analytics_reader') RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    -- The event sources, and the error-rate source of live_metrics() (sql/alerts.sql).
    FOR r IN SELECT DISTINCT x.rel FROM (
                 SELECT to_regclass(s.relation) AS rel FROM mking_analytics.sources s WHERE s.enabled
                 UNION ALL
                 SELECT to_regclass(e.relation) FROM mking_analytics.error_rate_source e) x
             WHERE x.rel IS NOT NULL LOOP
        EXECUTE format('GRANT SELECT ON %s TO %I', r.rel, grantee);
        RETURN NEXT r.rel::text;
    END LOOP;
END $$;
COMMENT ON FUNCTION grant_source_access(name) IS
    'Admins: GRANT SELECT on every enabled source relation and on the error-rate source to a role (default mking_analytics_reader), since the analytic functions and live_metrics() run with the caller''s rights. Returns the relations granted.';

-- ---------------------------------------------------------------------------------------------
-- The plan's analytics tables (tables.md). Later features fill them; they exist from the start.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE user_behavior_analytics (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL,
    session_id    text NOT NULL,
    device_type   text,
    browser       text,
    ip_address    inet,
    page_views    integer NOT NULL DEFAULT 0 CHECK (page_views >= 0),
    time_spent    integer NOT NULL DEFAULT 0 CHECK (time_spent >= 0),
    actions_count integer NOT NULL DEFAULT 0 CHECK (actions_count >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_behavior_analytics_user_idx   ON user_behavior_analytics (user_id);
CREATE INDEX user_behavior_analytics_time_idx   ON user_behavior_analytics (created_at);
CREATE INDEX user_behavior_analytics_device_idx ON user_behavior_analytics (device_type);
COMMENT ON TABLE user_behavior_analytics IS 'Per-session facts: user, session, device, browser, IP, page views, time spent (seconds), actions.';
COMMENT ON COLUMN user_behavior_analytics.time_spent IS 'Seconds spent in the session.';
COMMENT ON COLUMN user_behavior_analytics.ip_address IS 'Client IP address (personal data: keep access restricted).';

CREATE TABLE content_performance_analytics (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id            bigint NOT NULL,
    views_count        bigint NOT NULL DEFAULT 0,
    likes_count        bigint NOT NULL DEFAULT 0,
    comments_count     bigint NOT NULL DEFAULT 0,
    shares_count       bigint NOT NULL DEFAULT 0,
    engagement_score   numeric(10,2) NOT NULL DEFAULT 0,
    reach_count        bigint NOT NULL DEFAULT 0,
    click_through_rate numeric(5,4),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX content_performance_analytics_post_idx  ON content_performance_analytics (post_id);
CREATE INDEX content_performance_analytics_time_idx  ON content_performance_analytics (created_at);
CREATE INDEX content_performance_analytics_score_idx ON content_performance_analytics (engagement_score DESC);
COMMENT ON TABLE content_performance_analytics IS 'Per-post figures: views, likes, comments, shares, engagement score (likes + 2×comments + 3×shares), reach, click-through rate.';
COMMENT ON COLUMN content_performance_analytics.engagement_score IS 'likes + 2 × comments + 3 × shares; a missing component counts 0.';

CREATE TABLE social_interaction_analytics (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           bigint NOT NULL,
    interaction_type  text NOT NULL CHECK (interaction_type IN ('like', 'comment', 'share', 'follow')),
    target_id         bigint NOT NULL,
    target_type       text NOT NULL CHECK (target_type IN ('post', 'user')),
    interaction_value text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX social_interaction_analytics_user_idx   ON social_interaction_analytics (user_id);
CREATE INDEX social_interaction_analytics_type_idx   ON social_interaction_analytics (interaction_type);
CREATE INDEX social_interaction_analytics_target_idx ON social_interaction_analytics (target_id, target_type);
CREATE INDEX social_interaction_analytics_time_idx   ON social_interaction_analytics (created_at);
COMMENT ON TABLE social_interaction_analytics IS 'Interactions: who (user_id) did what (like, comment, share, follow) to which post or user.';

CREATE TABLE business_metrics (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    metric_name      text NOT NULL,
    metric_value     numeric(15,4),
    metric_type      text NOT NULL CHECK (metric_type IN ('daily', 'weekly', 'monthly')),
    calculation_date date NOT NULL,
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX business_metrics_name_date_idx ON business_metrics (metric_name, calculation_date);
CREATE INDEX business_metrics_type_date_idx ON business_metrics (metric_type, calculation_date);
COMMENT ON TABLE business_metrics IS 'Named metric values per day, week or month, with jsonb metadata.';

CREATE TABLE report_generation_logs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_type       text NOT NULL CHECK (report_type IN ('daily', 'weekly', 'monthly')),
    report_date       date NOT NULL,
    generation_status text NOT NULL DEFAULT 'pending' CHECK (generation_status IN ('pending', 'completed', 'failed')),
    file_path         text,
    generation_time   numeric(10,3),
    error_message     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz
);
CREATE INDEX report_generation_logs_type_date_idx ON report_generation_logs (report_type, report_date);
CREATE INDEX report_generation_logs_status_idx    ON report_generation_logs (generation_status);
COMMENT ON TABLE report_generation_logs IS 'One row per report run: type, period date, status, where the report is, seconds taken, error.';
COMMENT ON COLUMN report_generation_logs.generation_time IS 'Seconds the generation took.';

CREATE TABLE dashboard_configs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        bigint NOT NULL,
    dashboard_name text NOT NULL,
    config_data    jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_default     boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_configs_user_idx ON dashboard_configs (user_id);
COMMENT ON TABLE dashboard_configs IS 'Saved custom dashboards per user (jsonb config).';

CREATE TABLE data_export_logs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint,
    export_type   text NOT NULL CHECK (export_type IN ('json', 'csv', 'excel', 'pdf')),
    data_range    tstzrange,
    file_path     text,
    file_size     bigint CHECK (file_size >= 0),
    export_status text NOT NULL DEFAULT 'pending' CHECK (export_status IN ('pending', 'completed', 'failed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX data_export_logs_user_idx ON data_export_logs (user_id);
CREATE INDEX data_export_logs_time_idx ON data_export_logs (created_at);
COMMENT ON TABLE data_export_logs IS 'Exports (json, csv, excel, pdf): who, which range, where, size in bytes, status.';

CREATE TABLE alert_rules (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_name           text NOT NULL,
    rule_type           text NOT NULL,
    condition_query     text,
    threshold_value     numeric(15,4),
    comparison_operator text NOT NULL DEFAULT '>' CHECK (comparison_operator IN ('>', '<', '>=', '<=', '=')),
    alert_channels      jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_active           boolean NOT NULL DEFAULT true,
    cooldown_minutes    integer NOT NULL DEFAULT 5 CHECK (cooldown_minutes >= 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_active_idx ON alert_rules (is_active);
CREATE INDEX alert_rules_type_idx   ON alert_rules (rule_type);
COMMENT ON TABLE alert_rules IS 'Alert rules: a condition compared with a threshold by an operator (>, <, >=, <=, =), channels (email, slack, webhook), cooldown.';

CREATE TABLE alert_triggers (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_rule_id       bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    trigger_value       numeric,
    threshold_value     numeric,
    alert_message       text,
    notification_status text NOT NULL DEFAULT 'pending'
                        CHECK (notification_status IN ('pending', 'sending', 'delivered', 'failed', 'none')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    resolved_at         timestamptz,
    -- Beyond the plan's columns: what the listener and the evaluator need.
    rule_name           text NOT NULL,
    comparison_operator text NOT NULL,
    resolve_notification_status text
                        CHECK (resolve_notification_status IN ('pending', 'sending', 'delivered', 'failed', 'none')),
    delivery_attempts   integer NOT NULL DEFAULT 0,
    last_delivery_error text,
    delivered_at        timestamptz
);
CREATE INDEX alert_triggers_rule_idx ON alert_triggers (alert_rule_id);
CREATE INDEX alert_triggers_time_idx ON alert_triggers (created_at);
CREATE INDEX alert_triggers_open_idx ON alert_triggers (alert_rule_id) WHERE resolved_at IS NULL;
CREATE INDEX alert_triggers_undelivered_idx ON alert_triggers (id)
    WHERE notification_status IN ('pending', 'sending') OR resolve_notification_status IN ('pending', 'sending');
COMMENT ON TABLE alert_triggers IS 'Every firing of an alert rule: value seen, threshold, message, notification status, resolution time.';

-- Helper for argument checks: PostgreSQL's own time zone rules decide what a zone is.
CREATE FUNCTION is_valid_time_zone(tz text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM now() AT TIME ZONE tz;
    RETURN tz IS NOT NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END $$;
COMMENT ON FUNCTION is_valid_time_zone(text) IS 'True when PostgreSQL accepts the text as a time zone (AT TIME ZONE): full names, abbreviations, POSIX offsets.';
COMMENT ON FUNCTION sources_mark_configured() IS 'Trigger on sources: a row changed by hand stops being the shipped default (a missing table is then an error, not a NOTICE).';

-- mking_analytics: live metrics and alert rules (issue 4).
-- Evaluation itself is Rust (src/api/alerts.rs): it needs subtransactions, a per-query timeout and
-- a security-restricted switch to the rule owner's role, which SQL cannot express.

-- Rule columns beyond the plan's.
ALTER TABLE alert_rules
    ADD COLUMN metric      text,
    ADD COLUMN parameters  jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(parameters) = 'object'),
    ADD COLUMN owner_role  name NOT NULL DEFAULT current_user,
    ADD COLUMN last_evaluated_at timestamptz,
    ADD COLUMN last_status text,
    ADD COLUMN last_value  numeric,
    ADD COLUMN last_error  text,
    ADD COLUMN builtin     boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT alert_rules_type_check CHECK (rule_type IN ('query', 'metric', 'anomaly')),
    ADD CONSTRAINT alert_rules_query_check CHECK (rule_type <> 'query' OR condition_query IS NOT NULL),
    ADD CONSTRAINT alert_rules_metric_check CHECK (rule_type = 'query' OR metric IN ('active_users_1h', 'posts_1h', 'interactions_5m', 'error_rate')),
    ADD CONSTRAINT alert_rules_threshold_check CHECK (threshold_value IS NOT NULL OR rule_type = 'anomaly'),
    ADD CONSTRAINT alert_rules_channels_check CHECK (jsonb_typeof(alert_channels) = 'object');
ALTER TABLE alert_rules ALTER COLUMN rule_type SET DEFAULT 'metric';
COMMENT ON COLUMN alert_rules.rule_type IS
    'query: condition_query returns one number compared with threshold_value; metric: the built-in metric (column metric) compared with threshold_value; anomaly: fires when the metric leaves the band learned from the same hour of earlier weeks.';
COMMENT ON COLUMN alert_rules.condition_query IS
    'query rules: SQL returning one row whose first column is a number. Runs read-only, with a time limit, as owner_role, as a security-restricted operation.';
COMMENT ON COLUMN alert_rules.metric IS 'metric and anomaly rules: active_users_1h, posts_1h, interactions_5m or error_rate (the columns of live_metrics()).';
COMMENT ON COLUMN alert_rules.parameters IS
    'Options: timeout_ms (query rules, default 5000, at most 60000); anomaly rules: sensitivity (band half-width in robust standard deviations, default 3), weeks (history, default 6, at least 3 with data), direction (both, above, below; default both).';
COMMENT ON COLUMN alert_rules.owner_role IS 'The role whose privileges a query rule runs with: the role that created it (or one it is a member of). Rules owned by a superuser do not run.';
COMMENT ON COLUMN alert_rules.last_status IS 'Outcome of the last evaluation: fired, renotified, firing, resolved, ok, skipped or error.';
COMMENT ON COLUMN alert_rules.last_error IS 'Why the last evaluation failed or was skipped (NULL when it succeeded).';
COMMENT ON COLUMN alert_rules.comparison_operator IS 'value <operator> threshold_value fires: one of >, <, >=, <=, =. Anomaly rules ignore it (they fire outside the band).';
COMMENT ON COLUMN alert_rules.alert_channels IS
    'Where the listener (mking-listener) delivers: {"webhook": url or [urls], "slack": incoming-webhook url or [urls], "email": address or [addresses]}. {} = NOTIFY only.';
COMMENT ON COLUMN alert_rules.cooldown_minutes IS 'While the condition stays true, notify again at most once per this many minutes.';

ALTER TABLE alert_triggers
    ADD COLUMN last_notified_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN notification_count integer NOT NULL DEFAULT 1;
COMMENT ON COLUMN alert_triggers.notification_status IS 'Delivery of the firing (and re-notifications) by the listener: pending, sending, delivered, failed, none (no channels).';
COMMENT ON COLUMN alert_triggers.resolve_notification_status IS 'Delivery of the resolve notification: NULL while open, then pending, sending, delivered, failed or none.';
COMMENT ON COLUMN alert_triggers.resolved_at IS 'When the condition cleared (NULL while the alert is open). One open trigger per rule at most.';
CREATE UNIQUE INDEX alert_triggers_one_open_idx ON alert_triggers (alert_rule_id) WHERE resolved_at IS NULL;

-- A rule is checked when it is written, so a mistake is an error the writer sees at once (with
-- the accepted values), not a WARNING every few seconds from the scheduled loop. The table's
-- CHECK constraints stay as the last line of defence.
-- The owner of a rule is the role that writes it (or a role it is a member of), never chosen freely:
-- otherwise an admin could make a rule run with someone else's rights.
CREATE FUNCTION alert_rules_validate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
    v jsonb;
    problem record;
BEGIN
    -- The evaluator's bookkeeping (last_*) is not an edit: no checks, updated_at unchanged.
    IF TG_OP = 'UPDATE'
       AND to_jsonb(NEW) - ARRAY['last_evaluated_at', 'last_status', 'last_value', 'last_error', 'updated_at']
           = to_jsonb(OLD) - ARRAY['last_evaluated_at', 'last_status', 'last_value', 'last_error', 'updated_at'] THEN
        RETURN NEW;
    END IF;
    IF NEW.rule_name !~ '\S' THEN
        RAISE EXCEPTION 'alert rule: rule_name must not be blank'
            USING ERRCODE = '22023', HINT = 'Name the rule: the name heads its alert messages and notifications.';
    END IF;
    -- builtin rows are left out of pg_dump (CREATE EXTENSION recreates them): a rule marked so by
    -- hand would silently vanish from backups.
    IF (TG_OP = 'INSERT' AND NEW.builtin) OR (TG_OP = 'UPDATE' AND NEW.builtin IS DISTINCT FROM OLD.builtin) THEN
        RAISE EXCEPTION 'alert rule "%": builtin cannot be set or cleared', NEW.rule_name
            USING ERRCODE = '22023', HINT = 'builtin marks the three default rules CREATE EXTENSION installs; pg_dump leaves them out. Write your own rules with builtin = false (the default).';
    END IF;
    IF NEW.rule_type IS NULL OR NEW.rule_type NOT IN ('query', 'metric', 'anomaly') THEN
        RAISE EXCEPTION 'alert rule "%": invalid rule_type %', NEW.rule_name, coalesce(quote_literal(NEW.rule_type), 'NULL')
            USING ERRCODE = '22023', HINT = 'Accepted: ''metric'' (a built-in metric against threshold_value), ''anomaly'' (a metric leaving its learned band), ''query'' (condition_query against threshold_value).';
    END IF;
    IF NEW.comparison_operator IS NULL OR NEW.comparison_operator NOT IN ('>', '<', '>=', '<=', '=') THEN
        RAISE EXCEPTION 'alert rule "%": invalid comparison_operator %', NEW.rule_name, coalesce(quote_literal(NEW.comparison_operator), 'NULL')
            USING ERRCODE = '22023', HINT = 'Accepted: >, <, >=, <=, =.';
    END IF;
    IF NEW.rule_type IN ('metric', 'anomaly')
       AND (NEW.metric IS NULL OR NEW.metric NOT IN ('active_users_1h', 'posts_1h', 'interactions_5m', 'error_rate')) THEN
        RAISE EXCEPTION 'alert rule "%": invalid metric %', NEW.rule_name, coalesce(quote_literal(NEW.metric), 'NULL')
            USING ERRCODE = '22023', HINT = pg_catalog.format('%s rules need a metric: active_users_1h, posts_1h, interactions_5m or error_rate.', NEW.rule_type);
    END IF;
    IF NEW.rule_type = 'query' AND (NEW.condition_query IS NULL OR NEW.condition_query !~ '[^\s;]') THEN
        RAISE EXCEPTION 'alert rule "%": a query rule needs a condition_query', NEW.rule_name
            USING ERRCODE = '22023', HINT = 'SQL returning one row whose first column is a number, e.g. SELECT count(*) FROM public.posts WHERE ...';
    END IF;
    IF NEW.rule_type <> 'query' AND NEW.condition_query IS NOT NULL THEN
        RAISE EXCEPTION 'alert rule "%": condition_query is only for rule_type ''query'' (this one is %)', NEW.rule_name, NEW.rule_type
            USING ERRCODE = '22023';
    END IF;
    IF NEW.rule_type <> 'anomaly' AND NEW.threshold_value IS NULL THEN
        RAISE EXCEPTION 'alert rule "%": a % rule needs a threshold_value', NEW.rule_name, NEW.rule_type
            USING ERRCODE = '22023', HINT = 'The rule fires when value <comparison_operator> threshold_value.';
    END IF;
    IF NEW.threshold_value = 'NaN'::numeric THEN
        RAISE EXCEPTION 'alert rule "%": threshold_value NaN compares above every number', NEW.rule_name
            USING ERRCODE = '22023', HINT = 'Give a finite number.';
    END IF;
    IF NEW.cooldown_minutes IS NULL OR NEW.cooldown_minutes < 0 THEN
        RAISE EXCEPTION 'alert rule "%": invalid cooldown_minutes %', NEW.rule_name, coalesce(NEW.cooldown_minutes::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Minutes between re-notifications while the condition holds: 0 or more (default 5).';
    END IF;

    -- alert_channels: what the listener delivers to (docs/listener.md); a typo would deliver nothing.
    IF NEW.alert_channels IS NULL OR jsonb_typeof(NEW.alert_channels) <> 'object' THEN
        RAISE EXCEPTION 'alert rule "%": alert_channels must be a JSON object, not %', NEW.rule_name, coalesce(NEW.alert_channels::text, 'NULL')
            USING ERRCODE = '22023', HINT = '{"webhook": url or [urls], "slack": url or [urls], "email": address or [addresses]}; {} = NOTIFY only.';
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM jsonb_each(NEW.alert_channels) e LOOP
        IF k NOT IN ('webhook', 'slack', 'email') THEN
            RAISE EXCEPTION 'alert rule "%": unknown alert_channels key %', NEW.rule_name, quote_literal(k)
                USING ERRCODE = '22023', HINT = 'Accepted: webhook, slack, email.';
        END IF;
        IF NOT (jsonb_typeof(v) IN ('string', 'null')
                OR (jsonb_typeof(v) = 'array' AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v) x WHERE jsonb_typeof(x) <> 'string'))) THEN
            RAISE EXCEPTION 'alert rule "%": invalid alert_channels.% %', NEW.rule_name, k, v
                USING ERRCODE = '22023', HINT = 'A string, an array of strings, or null (no target).';
        END IF;
    END LOOP;

    -- parameters: only the keys this rule type reads, each within its range (a typo is an error,
    -- not a silently ignored option). The evaluator parses them with the same Rust code.
    SELECT * INTO problem FROM mking_analytics.alert_rule_parameters_problem(NEW.rule_type, NEW.parameters);
    IF FOUND THEN
        RAISE EXCEPTION 'alert rule "%": %', NEW.rule_name, problem.message USING ERRCODE = '22023', HINT = problem.hint;
    END IF;

    IF TG_OP = 'INSERT' OR NEW.owner_role IS DISTINCT FROM OLD.owner_role
       OR NEW.condition_query IS DISTINCT FROM OLD.condition_query THEN
        IF TG_OP = 'UPDATE' AND NEW.owner_role IS NOT DISTINCT FROM OLD.owner_role
           AND NEW.owner_role <> current_user THEN
            NEW.owner_role := current_user;   -- whoever changes the query owns it
        END IF;
        IF NOT pg_has_role(current_user, NEW.owner_role, 'MEMBER') THEN
            RAISE EXCEPTION 'alert rule "%": owner_role % is not a role you are a member of', NEW.rule_name, NEW.owner_role
                USING ERRCODE = '42501', HINT = 'Leave owner_role out (it defaults to you) or name a role you belong to.';
        END IF;
    END IF;
    -- The evaluator refuses to run a query as a superuser; say so now rather than every round.
    IF NEW.rule_type = 'query'
       AND (TG_OP = 'INSERT' OR NEW.owner_role IS DISTINCT FROM OLD.owner_role
            OR NEW.condition_query IS DISTINCT FROM OLD.condition_query OR NEW.rule_type IS DISTINCT FROM OLD.rule_type)
       AND (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = NEW.owner_role) THEN
        RAISE EXCEPTION 'alert rule "%": owner_role % is a superuser, and condition queries never run with superuser rights', NEW.rule_name, NEW.owner_role
            USING ERRCODE = '42501',
                  HINT = 'Write the rule as a non-superuser member of mking_analytics_admin (SET ROLE that_role first), or set owner_role to such a role.';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
-- The three default rules of the plan, disabled until an admin enables them (before the
-- trigger, which refuses builtin = true).
INSERT INTO alert_rules (rule_name, rule_type, metric, threshold_value, comparison_operator, is_active, cooldown_minutes, builtin)
VALUES ('Low activity: fewer than 10 active users in the last hour', 'metric', 'active_users_1h', 10, '<', false, 60, true),
       ('High error rate: above 5% in the last 5 minutes',          'metric', 'error_rate',      5,  '>', false, 15, true),
       ('Content publishing stall: no post in the last hour',        'metric', 'posts_1h',        1,  '<', false, 60, true);
COMMENT ON COLUMN alert_rules.builtin IS 'One of the three default rules installed by CREATE EXTENSION (not included in pg_dump: the install recreates them, disabled).';

CREATE TRIGGER alert_rules_validate BEFORE INSERT OR UPDATE ON alert_rules
    FOR EACH ROW EXECUTE FUNCTION alert_rules_validate();
COMMENT ON FUNCTION alert_rules_validate() IS
    'Trigger on alert_rules: checks rule_type, comparison_operator, metric, condition_query, threshold_value, cooldown_minutes and parameters (keys and ranges) with errors that list the accepted values; owner_role must be the writer or a role the writer belongs to and, for query rules, not a superuser; a changed query is owned by whoever changed it.';


-- Where the application's error rate comes from (optional; without it error_rate is NULL).
CREATE TABLE error_rate_source (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    relation        text NOT NULL,
    time_column     text NOT NULL,
    errors_column   text NOT NULL,
    requests_column text,
    window_minutes  integer NOT NULL DEFAULT 5 CHECK (window_minutes BETWEEN 1 AND 1440),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE error_rate_source IS
    'The error-rate source of live_metrics() (at most one row; set with set_error_rate_source()). Without requests_column each row is one request and errors_column a boolean; with it, both are counters summed over the window.';

CREATE FUNCTION set_error_rate_source(relation text, time_column text, errors_column text,
                                      requests_column text DEFAULT NULL, window_minutes integer DEFAULT 5)
RETURNS void
-- No SET search_path: the caller's path resolves an unqualified relation name (as set_source()
-- does); the relation is stored schema-qualified, and catalog names below are qualified.
LANGUAGE plpgsql AS $$
DECLARE
    rel regclass := pg_catalog.to_regclass(relation);
    t text;
    qualified text;
    problem text;
BEGIN
    IF relation IS NULL OR time_column IS NULL OR errors_column IS NULL OR window_minutes IS NULL THEN
        RAISE EXCEPTION 'set_error_rate_source: % must not be NULL',
              CASE WHEN relation IS NULL THEN 'relation' WHEN time_column IS NULL THEN 'time_column'
                   WHEN errors_column IS NULL THEN 'errors_column' ELSE 'window_minutes' END
            USING ERRCODE = '22004',
                  HINT = 'Give relation, time_column and errors_column (and requests_column for counters), e.g. set_error_rate_source(''public.request_log'', ''logged_at'', ''failed'').';
    END IF;
    IF rel IS NULL THEN
        RAISE EXCEPTION 'invalid relation %: no such table or view', quote_literal(relation)
            USING ERRCODE = '42P01', HINT = 'Give an existing table, schema-qualified unless it is on your search_path.';
    END IF;
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO qualified
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
    SELECT pg_catalog.format_type(atttypid, NULL) INTO t FROM pg_catalog.pg_attribute WHERE attrelid = rel AND attname = time_column AND NOT attisdropped AND attnum > 0;
    IF t IS NULL OR t NOT IN ('timestamp with time zone', 'timestamp without time zone') THEN
        RAISE EXCEPTION 'invalid time_column %: not a timestamp or timestamptz column of %', quote_literal(time_column), qualified
            USING ERRCODE = '22023';
    END IF;
    SELECT pg_catalog.format_type(atttypid, NULL) INTO t FROM pg_catalog.pg_attribute WHERE attrelid = rel AND attname = errors_column AND NOT attisdropped AND attnum > 0;
    IF requests_column IS NULL AND t IS DISTINCT FROM 'boolean' THEN
        RAISE EXCEPTION 'invalid errors_column %: without requests_column it must be a boolean column of % (true = the request failed)', quote_literal(errors_column), qualified
            USING ERRCODE = '22023', HINT = 'Or give counters: errors_column and requests_column numeric columns summed over the window.';
    END IF;
    IF requests_column IS NOT NULL THEN
        IF t IS NULL OR t NOT IN ('smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision') THEN
            RAISE EXCEPTION 'invalid errors_column %: with requests_column it must be a numeric counter column of %', quote_literal(errors_column), qualified
                USING ERRCODE = '22023';
        END IF;
        SELECT pg_catalog.format_type(atttypid, NULL) INTO t FROM pg_catalog.pg_attribute WHERE attrelid = rel AND attname = requests_column AND NOT attisdropped AND attnum > 0;
        IF t IS NULL OR t NOT IN ('smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision') THEN
            RAISE EXCEPTION 'invalid requests_column %: not a numeric column of %', quote_literal(requests_column), qualified
                USING ERRCODE = '22023';
        END IF;
    END IF;
    IF window_minutes IS NULL OR window_minutes NOT BETWEEN 1 AND 1440 THEN
        RAISE EXCEPTION 'invalid window_minutes %: accepted 1 to 1440', window_minutes USING ERRCODE = '22023';
    END IF;
    -- evaluate_alerts() reads it as the extension's owner and would refuse it every round.
    problem := mking_analytics.source_trust_problem(rel, ARRAY[time_column, errors_column, requests_column],
                                                    mking_analytics.extension_owner());
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'error-rate source refused: %', problem
            USING ERRCODE = '42501', HINT = 'Give a table, or a view owned by a superuser.';
    END IF;
    INSERT INTO mking_analytics.error_rate_source AS s (relation, time_column, errors_column, requests_column, window_minutes)
    VALUES (qualified, time_column, errors_column, requests_column, window_minutes)
    ON CONFLICT (id) DO UPDATE SET relation = EXCLUDED.relation, time_column = EXCLUDED.time_column,
        errors_column = EXCLUDED.errors_column, requests_column = EXCLUDED.requests_column,
        window_minutes = EXCLUDED.window_minutes, updated_at = now();
    RAISE NOTICE 'error rate now reads %; run mking_analytics.grant_source_access() so readers (Grafana) can call live_metrics()', qualified;
END $$;
COMMENT ON FUNCTION set_error_rate_source(text, text, text, text, integer) IS
    'Admins: where live_metrics().error_rate comes from. Per-request rows: errors_column boolean. Counters: errors_column and requests_column summed. error_rate = 100 × errors / requests over the last window_minutes (NULL without requests).';

-- Evaluates every few seconds for about a minute, committing after each round so NOTIFYs go out
-- at once. pg_cron 1.4 starts it every minute. No SET clause and no SECURITY DEFINER: a procedure
-- with either cannot COMMIT; names are therefore schema-qualified.
CREATE PROCEDURE run_alert_loop(duration_seconds integer DEFAULT 58, interval_seconds numeric DEFAULT 5)
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz;
    rounds integer := 0;
BEGIN
    IF duration_seconds IS NULL OR duration_seconds NOT BETWEEN 0 AND 3600 THEN
        RAISE EXCEPTION 'invalid duration_seconds %: accepted 0 to 3600', duration_seconds USING ERRCODE = '22023';
    END IF;
    IF interval_seconds IS NULL OR interval_seconds < 0.1 OR interval_seconds > 600 THEN
        RAISE EXCEPTION 'invalid interval_seconds %: accepted 0.1 to 600', interval_seconds USING ERRCODE = '22023';
    END IF;
    deadline := pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => duration_seconds);
    -- Before taking the lock: inside a transaction block the COMMIT below would fail after the
    -- first round and leave the session lock held. The precheck explains an explicit block; the
    -- COMMIT also stops any other atomic context (a CALL from a function) before the lock.
    PERFORM mking_analytics.alert_loop_precheck();
    COMMIT;
    -- One evaluator at a time: a second loop (a late cron start, a manual CALL) returns at once.
    IF NOT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('mking_analytics.run_alert_loop')) THEN
        RAISE NOTICE 'mking_analytics: another alert loop is running; this one returns';
        RETURN;
    END IF;
    -- A session lock outlives an aborted transaction: an error or a cancel (Ctrl-C, a timeout)
    -- during the sleep or a round releases it before leaving, or every later loop would return
    -- at once until this session ends. COMMIT cannot sit inside a block with EXCEPTION, so the
    -- block holds the sleep before each round but the first, and the round.
    LOOP
        BEGIN
            IF rounds > 0 THEN
                PERFORM pg_catalog.pg_sleep(interval_seconds::double precision);
            END IF;
            PERFORM mking_analytics.evaluate_alerts();
        EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
            PERFORM pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('mking_analytics.run_alert_loop'));
            RAISE;
        END;
        rounds := rounds + 1;
        COMMIT;
        EXIT WHEN pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => interval_seconds) >= deadline;
    END LOOP;
    PERFORM pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('mking_analytics.run_alert_loop'));
END $$;
COMMENT ON PROCEDURE run_alert_loop(integer, numeric) IS
    'Admins (and the pg_cron job): evaluate_alerts() every interval_seconds for duration_seconds, committing after each round so alerts are NOTIFYed within seconds although pg_cron starts jobs once a minute.';

CREATE FUNCTION alert_jobs() RETURNS TABLE (job_name text, job_schedule text, command text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'mking_analytics_alerts', '* * * * *', 'CALL mking_analytics.run_alert_loop(58, 5)'
$$;
COMMENT ON FUNCTION alert_jobs() IS 'The pg_cron job schedule() registers for alerts: run_alert_loop every minute (a round every 5 seconds).';

-- pg_dump keeps what users wrote (rules, alert history, the error source); the built-in rules are
-- recreated by CREATE EXTENSION. Sequences too, so restored ids are not handed out again.
SELECT pg_catalog.pg_extension_config_dump('alert_rules', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('alert_rules_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('alert_triggers', '');
SELECT pg_catalog.pg_extension_config_dump('alert_triggers_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('error_rate_source', '');

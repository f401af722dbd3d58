-- mking_analytics: stored reports and their subscribers (issue 5).

-- Runs of one kind and period in different zones are different reports: their failures are
-- counted apart (run_due_reports' max_attempts).
ALTER TABLE report_generation_logs ADD COLUMN tz text;
COMMENT ON COLUMN report_generation_logs.tz IS 'The zone the run cut its period in (as generate_report was given it).';

CREATE TABLE reports (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_type     text NOT NULL CHECK (report_type IN ('daily', 'weekly', 'monthly')),
    period_start    date NOT NULL,
    period_end      date NOT NULL CHECK (period_end > period_start),
    tz              text NOT NULL,
    data            jsonb,
    html            text,
    pdf             bytea,
    generated_at    timestamptz NOT NULL DEFAULT now(),
    generation_time numeric(10,3),
    -- Email delivery by the listener: pending until it has sent the report to every subscriber.
    delivery_status text NOT NULL DEFAULT 'pending'
                    CHECK (delivery_status IN ('pending', 'sending', 'delivered', 'failed', 'none')),
    delivery_attempts integer NOT NULL DEFAULT 0,
    last_delivery_error text,
    delivered_at    timestamptz,
    UNIQUE (report_type, period_start, tz)
);
CREATE INDEX reports_undelivered_idx ON reports (id) WHERE delivery_status IN ('pending', 'sending');
COMMENT ON TABLE reports IS
    'Generated reports: one row per kind, period and zone (regenerating replaces it and keeps the id). Data as jsonb, HTML and PDF; email delivery status.';

CREATE TABLE report_subscribers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_type text NOT NULL CHECK (report_type IN ('daily', 'weekly', 'monthly')),
    email       text NOT NULL CHECK (email ~ '^[^@\s<>]+@[^@\s<>]+$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- One subscription per kind and mailbox: addresses compare case-insensitively (OPS@example.com
-- is ops@example.com); the address is stored as first subscribed.
CREATE UNIQUE INDEX report_subscribers_kind_email_idx ON report_subscribers (report_type, lower(email));
COMMENT ON TABLE report_subscribers IS
    'Who receives each kind of report by email (the listener sends the HTML with the PDF attached). One row per kind and address, addresses compared case-insensitively.';

CREATE FUNCTION report_jobs() RETURNS TABLE (job_name text, job_schedule text, command text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    -- Every 5 minutes (GMT cron, no time zone in pg_cron 1.4.2): run_due_reports() decides in
    -- local time, so reports come at most 5 minutes after their local time, on both sides of DST.
    SELECT 'mking_analytics_reports', '*/5 * * * *', 'SELECT * FROM mking_analytics.run_due_reports()'
$$;
COMMENT ON FUNCTION report_jobs() IS 'The pg_cron job schedule() registers for reports: run_due_reports() every 5 minutes, which generates each report at its local time (report_schedule, database TimeZone).';

-- ---------------------------------------------------------------------------------------------
-- Rule thresholds and schedule (admins change them with UPDATE).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE report_settings (
    name        text PRIMARY KEY,
    value       numeric NOT NULL,
    description text NOT NULL
);
COMMENT ON TABLE report_settings IS
    'Thresholds of the report insight and recommendation rules (docs/reports.md). Change with UPDATE (admins); a row deleted falls back to its built-in default. Each insight cites the threshold by name and value.';
COMMENT ON COLUMN report_settings.name IS 'Threshold name, cited in the rule text of insights and recommendations.';
COMMENT ON COLUMN report_settings.value IS 'Threshold value (counts, interactions per post, or percent, as the description says).';
INSERT INTO report_settings (name, value, description) VALUES
    ('daily_active_users_good', 100, 'Daily report: active users at or above this is good activity, below is low activity.'),
    ('daily_posts_active', 10, 'Daily report: new posts at or above this is active content creation, below is insufficient.'),
    ('weekly_engagement_rate_good', 3, 'Weekly report: interactions per post at or above this is healthy engagement, below is low.'),
    ('weekly_registrations_change_pct', 20, 'Weekly report: a change in new users of at least this many percent (up or down) versus the previous week is reported.'),
    ('monthly_low_daily_registrations', 10, 'Monthly report: average daily registrations below this recommends strengthening referral.'),
    ('monthly_retention_d7_min', 30, 'Monthly report: average 7-day retention (percent) below this recommends improving onboarding.'),
    ('monthly_active_users_drop_pct', -10, 'Monthly report: a change in monthly active users at or below this percent recommends a re-engagement campaign.'),
    ('monthly_content_type_min_posts', 5, 'Monthly report: a content type needs at least this many posts to be recommended or called best-performing.');

-- A misspelled name would be ignored and NaN or a huge value would make a rule meaningless:
-- refused when written, with what is accepted.
CREATE FUNCTION report_settings_validate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.name IS NULL OR NEW.name NOT IN (SELECT n FROM mking_analytics.report_threshold_names() n) THEN
        RAISE EXCEPTION 'unknown report setting %', coalesce(quote_literal(NEW.name), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Known: ' || (SELECT string_agg(n, ', ') FROM mking_analytics.report_threshold_names() n) || '.';
    END IF;
    IF NEW.value IS NULL OR NEW.value = 'NaN'::numeric OR NEW.value NOT BETWEEN -1000000 AND 1000000 THEN
        RAISE EXCEPTION 'invalid value % for report setting %', coalesce(NEW.value::text, 'NULL'), NEW.name
            USING ERRCODE = '22023', HINT = 'A number from -1000000 to 1000000 (a count, interactions per post or a percent, as its description says).';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER report_settings_validate BEFORE INSERT OR UPDATE ON report_settings
    FOR EACH ROW EXECUTE FUNCTION report_settings_validate();
COMMENT ON FUNCTION report_settings_validate() IS
    'Trigger on report_settings: the name must be a threshold the rules read (report_threshold_names()) and the value a number from -1000000 to 1000000; SQLSTATE 22023 otherwise.';

CREATE TABLE report_schedule (
    report_type  text PRIMARY KEY CHECK (report_type IN ('daily', 'weekly', 'monthly')),
    enabled      boolean NOT NULL DEFAULT true,
    local_time   time NOT NULL,
    weekday      integer CHECK (weekday BETWEEN 1 AND 7),
    month_day    integer CHECK (month_day BETWEEN 1 AND 28),
    max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    CHECK ((report_type = 'weekly') = (weekday IS NOT NULL)),
    CHECK ((report_type = 'monthly') = (month_day IS NOT NULL))
);
-- The CHECKs above are the backstop; this says which column is wrong and what it accepts. A
-- local_time of 24:00 (a valid time value) would never be reached, so the report would silently
-- stop.
CREATE FUNCTION report_schedule_validate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.report_type IS NULL OR NEW.report_type NOT IN ('daily', 'weekly', 'monthly') THEN
        RAISE EXCEPTION 'invalid report_type %', coalesce(quote_literal(NEW.report_type), 'NULL')
            USING ERRCODE = '22023', HINT = 'Accepted: ''daily'', ''weekly'', ''monthly'' (one row each).';
    END IF;
    IF NEW.local_time IS NULL OR NEW.local_time >= '24:00'::time THEN
        RAISE EXCEPTION 'invalid local_time % for the % report', coalesce(NEW.local_time::text, 'NULL'), NEW.report_type
            USING ERRCODE = '22023', HINT = 'A local time from 00:00 to 23:59:59 (24:00 is never reached: use 00:00).';
    END IF;
    IF NEW.report_type = 'weekly' AND (NEW.weekday IS NULL OR NEW.weekday NOT BETWEEN 1 AND 7) THEN
        RAISE EXCEPTION 'invalid weekday % for the weekly report', coalesce(NEW.weekday::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'ISO day of the week: 1 = Monday .. 7 = Sunday.';
    END IF;
    IF NEW.report_type <> 'weekly' AND NEW.weekday IS NOT NULL THEN
        RAISE EXCEPTION 'weekday is only for the weekly report (this row is %)', NEW.report_type
            USING ERRCODE = '22023', HINT = 'Leave weekday NULL.';
    END IF;
    IF NEW.report_type = 'monthly' AND (NEW.month_day IS NULL OR NEW.month_day NOT BETWEEN 1 AND 28) THEN
        RAISE EXCEPTION 'invalid month_day % for the monthly report', coalesce(NEW.month_day::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'A day from 1 to 28, which every month has.';
    END IF;
    IF NEW.report_type <> 'monthly' AND NEW.month_day IS NOT NULL THEN
        RAISE EXCEPTION 'month_day is only for the monthly report (this row is %)', NEW.report_type
            USING ERRCODE = '22023', HINT = 'Leave month_day NULL.';
    END IF;
    IF NEW.max_attempts IS NULL OR NEW.max_attempts < 1 THEN
        RAISE EXCEPTION 'invalid max_attempts % for the % report', coalesce(NEW.max_attempts::text, 'NULL'), NEW.report_type
            USING ERRCODE = '22023', HINT = 'Failed runs of one period before run_due_reports() stops retrying it: 1 or more (default 3).';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER report_schedule_validate BEFORE INSERT OR UPDATE ON report_schedule
    FOR EACH ROW EXECUTE FUNCTION report_schedule_validate();
COMMENT ON FUNCTION report_schedule_validate() IS
    'Trigger on report_schedule: report_type daily/weekly/monthly, local_time before 24:00, weekday 1..7 (weekly only), month_day 1..28 (monthly only), max_attempts >= 1; SQLSTATE 22023 naming the column otherwise.';
COMMENT ON TABLE report_schedule IS
    'When run_due_reports() generates each kind, in LOCAL time of the database''s TimeZone (DST-safe): the last complete period''s report, once local time has passed local_time (weekly: on weekday, ISO 1 = Monday, or later; monthly: on month_day or later). Admins change it with UPDATE.';
COMMENT ON COLUMN report_schedule.local_time IS 'Local wall-clock time (database TimeZone) from which the report of the last complete period is due.';
COMMENT ON COLUMN report_schedule.weekday IS 'Weekly: ISO day of week (1 = Monday .. 7 = Sunday) from which last week''s report is due.';
COMMENT ON COLUMN report_schedule.month_day IS 'Monthly: day of the month (1..28) from which last month''s report is due.';
COMMENT ON COLUMN report_schedule.max_attempts IS 'Failed runs for one period after which run_due_reports() stops retrying it (generate_report() can still be called by hand).';
INSERT INTO report_schedule (report_type, local_time, weekday, month_day) VALUES
    ('daily', '07:00', NULL, NULL),
    ('weekly', '07:30', 1, NULL),
    ('monthly', '08:00', NULL, 1);

COMMENT ON COLUMN reports.data IS 'The report as jsonb (serde of the Rust model: figures with previous value and change %, charts, tables, insights, recommendations, section_errors, coverage). report_json(id) returns it.';
COMMENT ON COLUMN reports.html IS 'Self-contained HTML (inline SVG charts, no scripts). report_html(id) returns it.';
COMMENT ON COLUMN reports.pdf IS 'The same report as PDF. report_pdf(id) returns it.';
COMMENT ON COLUMN reports.tz IS 'Zone the period was cut in (local days, weeks, months).';
COMMENT ON COLUMN reports.generation_time IS 'Seconds the last generation took.';
COMMENT ON COLUMN reports.delivery_status IS 'Email delivery by the listener: pending (subscribers exist), sending, delivered, failed, or none (no subscribers when generated).';
COMMENT ON COLUMN report_subscribers.email IS 'Recipient address (personal data: the table is readable by admins only).';

-- ---------------------------------------------------------------------------------------------
-- Generation: a plpgsql frame around the Rust worker, so a failure is logged and survives.
-- ---------------------------------------------------------------------------------------------

-- Runs one section query of a report in a subtransaction (the BEGIN ... EXCEPTION block), so an
-- error in one section does not abort the report. Parameters: $1 zone, $2 source zone,
-- $3/$4 the period's bounds, $5/$6 the previous period's bounds, $7 the effective end (the
-- period's end, or now() while it runs).
CREATE FUNCTION report_section(query text, tz text, source_tz text, period_from timestamptz, period_to timestamptz,
                               previous_from timestamptz, previous_to timestamptz, effective_to timestamptz)
RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    result jsonb;
    state text;
    msg text;
BEGIN
    EXECUTE query INTO result USING tz, source_tz, period_from, period_to, previous_from, previous_to, effective_to;
    RETURN jsonb_build_object('ok', result);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN jsonb_build_object('error', state || ': ' || msg);
END $$;
COMMENT ON FUNCTION report_section(text, text, text, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz) IS
    'Internal (report generation): run one section query in a subtransaction; {"ok": result} or {"error": "SQLSTATE: message"}.';

CREATE FUNCTION generate_report(kind text, period_start date, tz text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    p record;
    log_id bigint;
    rid bigint;
    t0 timestamptz := clock_timestamp();
    secs numeric(10,3);
    state text;
    msg text;
BEGIN
    -- Bad arguments raise 22023 here, before anything is logged (nothing was run).
    SELECT * INTO p FROM mking_analytics.report_period(kind, period_start, tz);
    INSERT INTO mking_analytics.report_generation_logs (report_type, report_date, tz, generation_status)
    VALUES (p.kind, p.period_start, p.tz, 'pending') RETURNING id INTO log_id;
    BEGIN
        rid := mking_analytics.report_build(p.kind, p.period_start, p.tz);
    EXCEPTION WHEN OTHERS THEN
        -- The whole run failed: its work is rolled back, the failure is logged in this
        -- transaction (so it survives when the caller commits) and reported as a WARNING.
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        secs := round(extract(epoch FROM clock_timestamp() - t0)::numeric, 3);
        UPDATE mking_analytics.report_generation_logs
           SET generation_status = 'failed', error_message = state || ': ' || msg,
               generation_time = secs, completed_at = clock_timestamp()
         WHERE id = log_id;
        SELECT r.id INTO rid FROM mking_analytics.reports r
         WHERE r.report_type = p.kind AND r.period_start = p.period_start AND r.tz = p.tz;
        PERFORM pg_notify('mking_analytics_reports', jsonb_build_object(
            'report_id', rid, 'kind', p.kind, 'period_start', p.period_start, 'tz', p.tz, 'status', 'failed')::text);
        RAISE WARNING 'mking_analytics: % report for % (%) failed: % (SQLSTATE %)', p.kind, p.period_start, p.tz, msg, state
            USING HINT = format('Logged in mking_analytics.report_generation_logs (id %s); generate_report returns NULL.', log_id);
        RETURN NULL;
    END;
    secs := round(extract(epoch FROM clock_timestamp() - t0)::numeric, 3);
    UPDATE mking_analytics.reports SET generation_time = secs WHERE id = rid;
    UPDATE mking_analytics.report_generation_logs
       SET generation_status = 'completed', file_path = 'mking_analytics.reports/' || rid,
           generation_time = secs, completed_at = clock_timestamp()
     WHERE id = log_id;
    -- Delivered to listeners when this transaction commits.
    PERFORM pg_notify('mking_analytics_reports', jsonb_build_object(
        'report_id', rid, 'kind', p.kind, 'period_start', p.period_start, 'tz', p.tz, 'status', 'completed')::text);
    RETURN rid;
END $$;
COMMENT ON FUNCTION generate_report(text, date, text) IS
    'Admins: generate (or regenerate, keeping its id) the daily, weekly or monthly report of the period containing period_start, in tz (NULL = session TimeZone; weeks follow mking_analytics.week_start). Stores data, HTML and PDF in reports, logs the run in report_generation_logs and notifies channel mking_analytics_reports. Returns the report id; on a failure of the whole run: logs it as failed, raises a WARNING and returns NULL. Example: SELECT mking_analytics.generate_report(''weekly'', ''2024-03-06'', ''Europe/Berlin'');';

CREATE FUNCTION report_checked_id(id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'report id must not be NULL' USING ERRCODE = '22004',
            HINT = 'Pass the id of a stored report: SELECT id, report_type, period_start, tz FROM mking_analytics.reports ORDER BY id lists them.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mking_analytics.reports r WHERE r.id = report_checked_id.id) THEN
        RAISE EXCEPTION 'no report with id %', coalesce(id::text, 'NULL') USING ERRCODE = 'no_data_found',
            HINT = 'SELECT id, report_type, period_start, tz FROM mking_analytics.reports ORDER BY id lists them.';
    END IF;
    RETURN id;
END $$;
COMMENT ON FUNCTION report_checked_id(bigint) IS 'Internal: the id of a stored report; SQLSTATE 22004 (null_value_not_allowed) for a NULL id, P0002 (no_data_found) naming an unknown one.';

CREATE FUNCTION report_html(id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT r.html FROM mking_analytics.reports r WHERE r.id = (SELECT mking_analytics.report_checked_id($1))
$$;
COMMENT ON FUNCTION report_html(bigint) IS
    'The stored report as self-contained HTML. NULL id: SQLSTATE 22004 (null_value_not_allowed); unknown id: P0002 (no_data_found). Save it: psql -Atc "select mking_analytics.report_html(1)" > r.html';

CREATE FUNCTION report_json(id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT r.data FROM mking_analytics.reports r WHERE r.id = (SELECT mking_analytics.report_checked_id($1))
$$;
COMMENT ON FUNCTION report_json(bigint) IS
    'The stored report''s data as jsonb (figures with previous value and change %, charts, tables, insights, recommendations, coverage, section_errors). NULL id: SQLSTATE 22004; unknown id: P0002.';

CREATE FUNCTION report_pdf(id bigint) RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT r.pdf FROM mking_analytics.reports r WHERE r.id = (SELECT mking_analytics.report_checked_id($1))
$$;
COMMENT ON FUNCTION report_pdf(bigint) IS
    'The stored report as PDF. NULL id: SQLSTATE 22004; unknown id: P0002. Save it: psql -Atc "select encode(mking_analytics.report_pdf(1), ''base64'')" | base64 -d > r.pdf';

-- ---------------------------------------------------------------------------------------------
-- Subscribers.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION report_kind_checked(kind text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF kind IS NULL OR lower(btrim(kind)) NOT IN ('daily', 'weekly', 'monthly') THEN
        RAISE EXCEPTION 'invalid kind %: accepted values are ''daily'', ''weekly'', ''monthly''', coalesce(quote_literal(kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN lower(btrim(kind));
END $$;
COMMENT ON FUNCTION report_kind_checked(text) IS 'Internal: the report kind normalized (daily, weekly, monthly), or SQLSTATE 22023 naming the argument.';

CREATE FUNCTION report_email_checked(email text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    e text := btrim(email);
BEGIN
    -- local@domain.tld without empty dot-separated parts ('a@.example.com', 'a..b@example.com'),
    -- which mail libraries (the listener's included) refuse.
    IF e IS NULL OR e !~ '^[^@\s<>",;]+@[^@\s<>",;]+\.[^@\s<>",;]+$' OR e ~ '(^\.|\.\.|\.@|@\.|\.$)'
       OR length(e) > 254 THEN
        RAISE EXCEPTION 'invalid email %: expected an address such as ops@example.com', coalesce(quote_literal(email), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'One address per call, without a display name.';
    END IF;
    RETURN e;
END $$;
COMMENT ON FUNCTION report_email_checked(text) IS 'Internal (report_subscribe, report_unsubscribe): the address trimmed, or SQLSTATE 22023 naming it unless it is local@domain.tld (at most 254 characters, no display name).';

CREATE FUNCTION report_subscribe(kind text, email text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    k text := mking_analytics.report_kind_checked(kind);
    e text := mking_analytics.report_email_checked(email);
BEGIN
    -- The unique index compares addresses case-insensitively; the first spelling is kept.
    INSERT INTO mking_analytics.report_subscribers (report_type, email) VALUES (k, e)
    ON CONFLICT (report_type, lower(email)) DO NOTHING;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION report_subscribe(text, text) IS
    'Admins: email every generated report of a kind (daily, weekly, monthly) to an address (stored as typed, trimmed). True when added, false when it was subscribed already: addresses compare case-insensitively, so OPS@example.com is ops@example.com. Invalid kind or email: SQLSTATE 22023.';

CREATE FUNCTION report_unsubscribe(kind text, email text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k text := mking_analytics.report_kind_checked(kind);
    e text := mking_analytics.report_email_checked(email);
BEGIN
    DELETE FROM mking_analytics.report_subscribers s WHERE s.report_type = k AND lower(s.email) = lower(e);
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION report_unsubscribe(text, text) IS
    'Admins: stop emailing a kind of report to an address (compared case-insensitively). True when it was subscribed, false when not. Invalid kind or email: SQLSTATE 22023, as report_subscribe.';

-- ---------------------------------------------------------------------------------------------
-- Scheduling: pg_cron 1.4.2 reads schedules in GMT, so one frequent job asks which reports are
-- due in local time (DST-safe) instead of one cron line per report.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION run_due_reports(as_of timestamptz DEFAULT now())
RETURNS TABLE (kind text, period_start date, report_id bigint, status text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    zone text := current_setting('TimeZone');
    local_now timestamp := as_of AT TIME ZONE zone;
    today date := (as_of AT TIME ZONE zone)::date;
    sunday boolean := coalesce(current_setting('mking_analytics.week_start', true), 'monday') = 'sunday';
    s record;
    p_start date;
    p_end date;
    due timestamp;
    failures integer;
BEGIN
    -- Before anything runs (or is announced): a NULL instant would make every report due for a NULL day.
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL: leave it out to run for now()' USING ERRCODE = '22004',
            HINT = 'SELECT * FROM mking_analytics.run_due_reports(); pass an instant such as ''2024-03-13 07:00+00'' only to simulate it.';
    END IF;
    IF NOT isfinite(as_of) THEN
        RAISE EXCEPTION 'invalid as_of %: a finite instant is required', as_of USING ERRCODE = '22023',
            HINT = 'Leave it out to run for now(), or pass an instant such as ''2024-03-13 07:00+00'' to simulate it.';
    END IF;
    -- Overlapping runs (a slow report and the next tick) wait for each other instead of racing.
    PERFORM pg_advisory_xact_lock(hashtext('mking_analytics.run_due_reports'));
    FOR s IN SELECT * FROM mking_analytics.report_schedule WHERE enabled ORDER BY array_position(ARRAY['daily', 'weekly', 'monthly'], report_type) LOOP
        -- The last complete period, and the local instant its report is due.
        IF s.report_type = 'daily' THEN
            p_end := today;
            p_start := today - 1;
            due := p_end + s.local_time;
        ELSIF s.report_type = 'weekly' THEN
            p_end := today - CASE WHEN sunday THEN extract(dow FROM today)::int ELSE extract(isodow FROM today)::int - 1 END;
            p_start := p_end - 7;
            due := p_end + ((s.weekday - extract(isodow FROM p_end)::int + 7) % 7) + s.local_time;
        ELSE
            p_end := date_trunc('month', today)::date;
            p_start := (p_end - interval '1 month')::date;
            due := p_end + (s.month_day - 1) + s.local_time;
        END IF;
        CONTINUE WHEN local_now < due;
        CONTINUE WHEN EXISTS (SELECT 1 FROM mking_analytics.reports r
                               WHERE r.report_type = s.report_type AND r.period_start = p_start AND r.tz = zone);
        SELECT count(*) INTO failures FROM mking_analytics.report_generation_logs l
         WHERE l.report_type = s.report_type AND l.report_date = p_start AND l.tz = zone
           AND l.generation_status = 'failed';
        IF failures >= s.max_attempts THEN
            RAISE NOTICE 'mking_analytics: % report for % not retried: % failed attempts (report_schedule.max_attempts %)',
                s.report_type, p_start, failures, s.max_attempts;
            CONTINUE;
        END IF;
        RAISE NOTICE 'mking_analytics: generating the % report for % (%), due since % local', s.report_type, p_start, zone, due;
        kind := s.report_type;
        period_start := p_start;
        report_id := mking_analytics.generate_report(s.report_type, p_start, zone);
        status := CASE WHEN report_id IS NULL THEN 'failed' ELSE 'completed' END;
        RAISE NOTICE 'mking_analytics: % report for %: % (id %)', s.report_type, p_start, status, coalesce(report_id::text, 'none');
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION run_due_reports(timestamptz) IS
    'Admins and the pg_cron job: generate every report that is due at as_of in the database''s TimeZone (report_schedule): the last complete day, week and month, once local time has passed the configured time, once (idempotent; a failed period is retried up to max_attempts). Returns what it generated. as_of simulates another instant (tests); NULL: SQLSTATE 22004 before anything runs.';

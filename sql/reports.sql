-- mking_analytics: stored reports and their subscribers (issue 5).

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
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (report_type, email)
);
COMMENT ON TABLE report_subscribers IS
    'Who receives each kind of report by email (the listener sends the HTML with the PDF attached).';

CREATE FUNCTION report_jobs() RETURNS TABLE (job_name text, job_schedule text, command text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT NULL::text, NULL::text, NULL::text WHERE false
$$;
COMMENT ON FUNCTION report_jobs() IS 'The pg_cron jobs schedule() registers for reports.';

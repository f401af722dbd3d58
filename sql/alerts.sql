-- mking_analytics: live metrics and alert evaluation (issue 4).

CREATE FUNCTION alert_jobs() RETURNS TABLE (job_name text, job_schedule text, command text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT NULL::text, NULL::text, NULL::text WHERE false
$$;
COMMENT ON FUNCTION alert_jobs() IS 'The pg_cron jobs schedule() registers for alert evaluation.';

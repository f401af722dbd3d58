-- Loads the committed CSVs into the tables of schema.sql. scripts/demo.sh runs it with psql
-- from inside examples/demo/data (so the relative file names below resolve), in the same single
-- transaction as schema.sql: a failed load leaves nothing behind and is retried on the next start.
\copy public.users              (id, username, created_at) FROM PROGRAM 'gzip -dc users.csv.gz' WITH (FORMAT csv, HEADER true)
\copy public.posts              (id, user_id, title, content_type, like_count, comment_count, share_count, created_at) FROM PROGRAM 'gzip -dc posts.csv.gz' WITH (FORMAT csv, HEADER true)
\copy public.likes              (id, user_id, post_id, created_at) FROM PROGRAM 'gzip -dc likes.csv.gz' WITH (FORMAT csv, HEADER true)
\copy public.comments           (id, user_id, post_id, content, created_at) FROM PROGRAM 'gzip -dc comments.csv.gz' WITH (FORMAT csv, HEADER true)
\copy public.shares             (id, user_id, post_id, created_at) FROM PROGRAM 'gzip -dc shares.csv.gz' WITH (FORMAT csv, HEADER true)
\copy public.follows            (id, follower_id, following_id, created_at) FROM PROGRAM 'gzip -dc follows.csv.gz' WITH (FORMAT csv, HEADER true)
\copy public.user_behavior_logs (id, user_id, session_id, device_type, page_views, time_spent, created_at) FROM PROGRAM 'gzip -dc user_behavior_logs.csv.gz' WITH (FORMAT csv, HEADER true)

-- The marker scripts/demo.sh looks for to know the data is loaded (reused on the next start).
COMMENT ON TABLE public.users IS 'mking_analytics demo data: beer.stackexchange.com data dump 2020-06-01, CC BY-SA (see examples/demo/ATTRIBUTION.md)';
ANALYZE public.users, public.posts, public.likes, public.comments, public.shares, public.follows, public.user_behavior_logs;

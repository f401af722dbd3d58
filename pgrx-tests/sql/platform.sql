-- The platform's tables, created as in docs tables.md (plain `timestamp` columns hold UTC).
-- Event tables deliberately have no primary key so the test data can hold exact duplicate rows.
CREATE TABLE public.users (
    id         int PRIMARY KEY,
    username   text,
    created_at timestamp
);
CREATE TABLE public.posts (
    id            int,
    user_id       int,
    title         text,
    content_type  text,
    like_count    int,
    comment_count int,
    share_count   int,
    created_at    timestamp
);
CREATE TABLE public.likes (
    id         int,
    user_id    int,
    post_id    int,
    created_at timestamp
);
CREATE TABLE public.comments (
    id         int,
    user_id    int,
    post_id    int,
    content    text,
    created_at timestamp
);
CREATE TABLE public.shares (
    id         int,
    user_id    int,
    post_id    int,
    created_at timestamp
);
CREATE TABLE public.follows (
    id           int,
    follower_id  int,
    following_id int,
    created_at   timestamp
);
CREATE TABLE public.user_behavior_logs (
    id          int,
    user_id     int,
    session_id  text,
    device_type text,
    page_views  int,
    time_spent  int,
    created_at  timestamp
);

-- The platform's tables of the demo (examples/demo), as docs tables.md lists them, in `public`.
-- Ids are bigint; plain `timestamp` columns hold UTC. No foreign keys: the dump keeps rows of
-- deleted accounts (e.g. comments whose UserId is absent), as real platforms often do.

CREATE TABLE public.users (
    id          bigint PRIMARY KEY,
    username    text,
    created_at  timestamp NOT NULL            -- signup
);

CREATE TABLE public.posts (
    id             bigint PRIMARY KEY,
    user_id        bigint,                    -- NULL: author's account deleted
    title          text,
    content_type   text,                      -- 'question' | 'answer'
    like_count     int NOT NULL DEFAULT 0,    -- upvotes (Votes VoteTypeId 2), per-post total
    comment_count  int NOT NULL DEFAULT 0,
    share_count    int NOT NULL DEFAULT 0,
    created_at     timestamp NOT NULL
);

CREATE TABLE public.likes (
    id          bigint PRIMARY KEY,
    user_id     bigint,
    post_id     bigint NOT NULL,
    created_at  timestamp NOT NULL
);

CREATE TABLE public.comments (
    id          bigint PRIMARY KEY,
    user_id     bigint,
    post_id     bigint NOT NULL,
    content     text,
    created_at  timestamp NOT NULL
);

CREATE TABLE public.shares (
    id          bigint PRIMARY KEY,
    user_id     bigint,
    post_id     bigint NOT NULL,
    created_at  timestamp NOT NULL
);

CREATE TABLE public.follows (
    id            bigint PRIMARY KEY,
    follower_id   bigint NOT NULL,
    following_id  bigint NOT NULL,
    created_at    timestamp NOT NULL
);

CREATE TABLE public.user_behavior_logs (
    id           bigint PRIMARY KEY,
    user_id      bigint NOT NULL,
    session_id   text NOT NULL,
    device_type  text,
    page_views   int,
    time_spent   int,                         -- seconds
    created_at   timestamp NOT NULL
);

CREATE INDEX users_created_at_idx               ON public.users (created_at);
CREATE INDEX posts_user_id_created_at_idx       ON public.posts (user_id, created_at);
CREATE INDEX posts_created_at_idx               ON public.posts (created_at);
CREATE INDEX likes_user_id_created_at_idx       ON public.likes (user_id, created_at);
CREATE INDEX likes_post_id_idx                  ON public.likes (post_id);
CREATE INDEX likes_created_at_idx               ON public.likes (created_at);
CREATE INDEX comments_user_id_created_at_idx    ON public.comments (user_id, created_at);
CREATE INDEX comments_post_id_idx               ON public.comments (post_id);
CREATE INDEX comments_created_at_idx            ON public.comments (created_at);
CREATE INDEX shares_user_id_created_at_idx      ON public.shares (user_id, created_at);
CREATE INDEX shares_post_id_idx                 ON public.shares (post_id);
CREATE INDEX shares_created_at_idx              ON public.shares (created_at);
CREATE INDEX follows_follower_id_created_at_idx ON public.follows (follower_id, created_at);
CREATE INDEX follows_following_id_idx           ON public.follows (following_id);
CREATE INDEX follows_created_at_idx             ON public.follows (created_at);
CREATE INDEX ubl_user_id_created_at_idx         ON public.user_behavior_logs (user_id, created_at);
CREATE INDEX ubl_created_at_idx                 ON public.user_behavior_logs (created_at);

#!/usr/bin/env python3
"""Convert the beer.stackexchange.com data dump into the platform tables of the demo.

Usage:  python3 examples/demo/convert.py [DUMP_DIR] [OUT_DIR]

DUMP_DIR defaults to ../shared/data/stackexchange-beer (relative to the repository root),
OUT_DIR to examples/demo/data. Python 3.11 standard library only. The output is
deterministic: rows are sorted, gzip members carry mtime 0 and no file name, so running it
twice gives byte-identical files. The mapping is documented in examples/demo/README.md.
"""
from __future__ import annotations

import collections
import datetime as dt
import gzip
import io
import os
import sys
import xml.etree.ElementTree as ET

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_DUMP = os.path.join(REPO_ROOT, "..", "shared", "data", "stackexchange-beer")
DEFAULT_OUT = os.path.join(REPO_ROOT, "examples", "demo", "data")

SESSION_GAP = dt.timedelta(minutes=30)  # inactivity gap that closes a session
SESSION_TAIL_SECONDS = 60               # credit for the last action of a session
COMMUNITY_USER = -1                     # Stack Exchange's "Community" bot account

QUESTION, ANSWER = "1", "2"
VOTE_UPVOTE, VOTE_FAVORITE = "2", "5"
HISTORY_TWEETED = "25"


def rows(dump: str, name: str):
    """Yield the attribute dict of each <row> of a dump file."""
    for _, elem in ET.iterparse(os.path.join(dump, name), events=("end",)):
        if elem.tag == "row":
            yield dict(elem.attrib)
        elem.clear()


def ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def fmt(value: dt.datetime) -> str:
    """UTC timestamp without time zone, milliseconds kept when present."""
    s = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        s += ".%03d" % (value.microsecond // 1000)
    return s


def opt_int(value: str | None) -> int | None:
    return None if value is None or value == "" else int(value)


def write_csv(out: str, name: str, header: list[str], data) -> int:
    """Write a gzip CSV deterministically (mtime 0, no embedded file name).

    Numbers and timestamps are unquoted, strings always quoted, None is an empty unquoted
    field, which COPY ... (FORMAT csv) reads as NULL; an empty string stays a quoted "".
    """
    def field(v) -> str:
        if v is None:
            return ""
        if isinstance(v, int):
            return str(v)
        if isinstance(v, dt.datetime):
            return fmt(v)
        return '"' + str(v).replace('"', '""') + '"'

    buf = io.StringIO()
    buf.write(",".join(header) + "\n")
    n = 0
    for row in data:
        buf.write(",".join(field(v) for v in row) + "\n")
        n += 1
    raw = buf.getvalue().encode("utf-8")
    path = os.path.join(out, name + ".csv.gz")
    with open(path, "wb") as fh:
        with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
            gz.write(raw)
    print(f"  {name + '.csv.gz':32s} {n:7d} rows {os.path.getsize(path):9d} bytes")
    return n


def main(argv: list[str]) -> int:
    dump = os.path.abspath(argv[1]) if len(argv) > 1 else os.path.abspath(DEFAULT_DUMP)
    out = os.path.abspath(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    if not os.path.isfile(os.path.join(dump, "Posts.xml")):
        print(f"convert.py: no Stack Exchange dump in {dump}", file=sys.stderr)
        return 1
    os.makedirs(out, exist_ok=True)
    print(f"converting {dump} -> {out}")

    # ---- users -------------------------------------------------------------------------
    users: dict[int, tuple[str, dt.datetime]] = {}
    for r in rows(dump, "Users.xml"):
        users[int(r["Id"])] = (r.get("DisplayName", ""), ts(r["CreationDate"]))

    def real_user(uid: int | None) -> bool:
        return uid is not None and uid in users and uid != COMMUNITY_USER

    # ---- posts (questions and answers only) --------------------------------------------
    posts: dict[int, dict] = {}
    for r in rows(dump, "Posts.xml"):
        if r["PostTypeId"] not in (QUESTION, ANSWER):
            continue
        posts[int(r["Id"])] = {
            "type": r["PostTypeId"],
            "title": r.get("Title"),
            "parent": opt_int(r.get("ParentId")),
            "owner": opt_int(r.get("OwnerUserId")),
            "owner_name": r.get("OwnerDisplayName"),
            "created": ts(r["CreationDate"]),
            "license": r.get("ContentLicense", ""),
        }
    for p in posts.values():
        if p["type"] == ANSWER:
            q = posts.get(p["parent"])
            p["title"] = "Answer: " + (q["title"] if q and q["title"] else "")

    # ---- votes: upvotes as per-post totals, favourites as likes ------------------------
    upvotes: collections.Counter[int] = collections.Counter()
    likes = []
    for r in rows(dump, "Votes.xml"):
        pid = int(r["PostId"])
        if pid not in posts:
            continue
        if r["VoteTypeId"] == VOTE_UPVOTE:
            upvotes[pid] += 1
        elif r["VoteTypeId"] == VOTE_FAVORITE:
            likes.append((int(r["Id"]), opt_int(r.get("UserId")), pid, ts(r["CreationDate"])))
    likes.sort()

    # ---- comments ----------------------------------------------------------------------
    comments = []
    comment_authors = []
    for r in rows(dump, "Comments.xml"):
        pid = int(r["PostId"])
        if pid not in posts:
            continue
        cid = int(r["Id"])
        uid = opt_int(r.get("UserId"))
        comments.append((cid, uid, pid, r.get("Text", ""), ts(r["CreationDate"])))
        name = users[uid][0] if uid in users else r.get("UserDisplayName", "")
        comment_authors.append((cid, pid, name, r.get("ContentLicense", "")))
    comments.sort()
    comment_count = collections.Counter(c[2] for c in comments)

    # ---- PostHistory: shares (post tweeted) and timestamped user actions ---------------
    shares = []
    history_actions = []  # (user_id, time)
    for r in rows(dump, "PostHistory.xml"):
        uid = opt_int(r.get("UserId"))
        when = ts(r["CreationDate"])
        pid = int(r["PostId"])
        if r["PostHistoryTypeId"] == HISTORY_TWEETED and pid in posts:
            shares.append((int(r["Id"]), uid, pid, when))
        if real_user(uid):
            history_actions.append((uid, when))
    shares.sort()
    share_count = collections.Counter(s[2] for s in shares)

    # ---- follows: proxy from answer->question and comment->post reply edges ------------
    first_touch: dict[tuple[int, int], dt.datetime] = {}

    def touch(a: int | None, b: int | None, when: dt.datetime) -> None:
        if real_user(a) and real_user(b) and a != b:
            key = (a, b)
            if key not in first_touch or when < first_touch[key]:
                first_touch[key] = when

    for p in posts.values():
        if p["type"] == ANSWER and p["parent"] in posts:
            touch(p["owner"], posts[p["parent"]]["owner"], p["created"])
    for _, uid, pid, _, when in comments:
        touch(uid, posts[pid]["owner"], when)
    follows = sorted((when, a, b) for (a, b), when in first_touch.items())
    follows = [(i, a, b, when) for i, (when, a, b) in enumerate(follows, start=1)]

    # ---- user_behavior_logs: 30-minute-gap sessions over timestamped actions -----------
    actions: dict[int, set[dt.datetime]] = collections.defaultdict(set)
    for p in posts.values():
        if real_user(p["owner"]):
            actions[p["owner"]].add(p["created"])
    for _, uid, _, _, when in comments:
        if real_user(uid):
            actions[uid].add(when)
    for uid, when in history_actions:
        actions[uid].add(when)
    sessions = []  # (start, user, n, page_views, time_spent)
    for uid in sorted(actions):
        times = sorted(actions[uid])
        n = 0
        start = prev = times[0]
        count = 0
        for t in times + [None]:
            if t is None or t - prev > SESSION_GAP:
                n += 1
                spent = int((prev - start).total_seconds()) + SESSION_TAIL_SECONDS
                sessions.append((start, uid, n, count, spent))
                if t is None:
                    break
                start, count = t, 0
            count += 1
            prev = t
    sessions.sort()
    logs = [
        (i, uid, f"u{uid}-s{n}", "web", views, spent, start)
        for i, (start, uid, n, views, spent) in enumerate(sessions, start=1)
    ]

    # ---- write --------------------------------------------------------------------------
    write_csv(out, "users", ["id", "username", "created_at"],
              ((uid, name, created) for uid, (name, created) in sorted(users.items())))
    write_csv(out, "posts",
              ["id", "user_id", "title", "content_type", "like_count", "comment_count",
               "share_count", "created_at"],
              ((pid, p["owner"], p["title"], "question" if p["type"] == QUESTION else "answer",
                upvotes[pid], comment_count[pid], share_count[pid], p["created"])
               for pid, p in sorted(posts.items())))
    write_csv(out, "likes", ["id", "user_id", "post_id", "created_at"], likes)
    write_csv(out, "comments", ["id", "user_id", "post_id", "content", "created_at"], comments)
    write_csv(out, "shares", ["id", "user_id", "post_id", "created_at"], shares)
    write_csv(out, "follows", ["id", "follower_id", "following_id", "created_at"], follows)
    write_csv(out, "user_behavior_logs",
              ["id", "user_id", "session_id", "device_type", "page_views", "time_spent",
               "created_at"], logs)

    # Attribution: every post and comment whose text (title, comment body) the demo carries,
    # with its original URL, its author's display name and its licence.
    def post_author(p: dict) -> str:
        if p["owner"] in users:
            return users[p["owner"]][0]
        return p["owner_name"] or ""

    attribution = []
    for pid, p in sorted(posts.items()):
        kind = "question" if p["type"] == QUESTION else "answer"
        url = f"https://beer.stackexchange.com/{'q' if kind == 'question' else 'a'}/{pid}"
        attribution.append((kind, pid, pid, url, post_author(p), p["license"]))
    for cid, pid, name, lic in sorted(comment_authors):
        url = f"https://beer.stackexchange.com/q/{pid}#comment{cid}_{pid}"
        attribution.append(("comment", cid, pid, url, name, lic))
    write_csv(out, "attribution", ["kind", "id", "post_id", "url", "author", "license"],
              attribution)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

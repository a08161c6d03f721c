"""Exit 0 when the named service answers at the URL (used by `make test`)."""

import sys


def main(kind: str, url: str) -> int:
    try:
        if kind == "postgres":
            import psycopg

            with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        elif kind == "redis":
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=3).ping()
        else:
            return 2
    except Exception:  # any failure means "not usable here"
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

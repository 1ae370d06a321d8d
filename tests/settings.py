"""Settings for the test suite: the project's settings plus what tests need.

PUBLIKUM_TEST_DATABASE_URL adds a second database alias "pg" (PostgreSQL) for the tests
that must hold under concurrency; they run several processes against it.
"""

import os

from publikum.settings import *  # noqa: F403
from publikum.settings import DATABASES, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

_pg_url = os.environ.get("PUBLIKUM_TEST_DATABASE_URL", "")
if _pg_url:
    DATABASES["pg"] = env.db_url_config(_pg_url)
    # Two test runs at once on one server (a developer's and CI's) need their own names.
    DATABASES["pg"]["TEST"] = {
        "NAME": os.environ.get("PUBLIKUM_TEST_PG_NAME", "test_publikum_concurrency")
    }
# With PostgreSQL as the main database too (DATABASE_URL), the same variable names that
# run's main test database, so that parallel runs on one server keep apart.
if "PUBLIKUM_TEST_PG_NAME" in os.environ and "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["TEST"] = {"NAME": os.environ["PUBLIKUM_TEST_PG_NAME"] + "_main"}

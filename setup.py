"""Package layout pyproject.toml cannot state: the top-level `alembic/` ships as `app.migrations`.

The migrations live in `alembic/` in the source tree, so `alembic upgrade head` works from a
checkout; an installed wheel has no checkout, so the same folder is built into the package as
`app/migrations/` and found there with importlib.resources (app/services/migrations.py).
It is never shipped as a top-level `alembic` package: that would shadow the Alembic library.
`packages` is computed here, not listed, because pyproject's `packages.find` cannot be combined
with a mapped sub-package; everything else about the project is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

MIGRATIONS = "app.migrations"

setup(
    packages=[
        *find_namespace_packages(include=["app", "app.*", "workers", "workers.*"]),
        MIGRATIONS,
        f"{MIGRATIONS}.versions",
    ],
    package_dir={MIGRATIONS: "alembic"},
    # `alembic revision` renders new migrations from this template.
    package_data={MIGRATIONS: ["script.py.mako"]},
)

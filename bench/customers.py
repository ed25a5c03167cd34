"""Customer reads on the reporting bench's database, before and after migration 0018, in the same run.

The top-customers report (one store and all stores, 30, 90 and 365 days ending on the bench's last day) and the
Products page's repeat-purchase rate (the range and the period before it), read as the scheduler and as the
web role (a member granted every store, RLS applies), p50 / p95 of `--repeats` runs each. The baseline is the
same reads of `dashboard/queries.py` at `--baseline-ref` (main) on the database as it is; then 0018's upgrade()
is applied WITHOUT stamping alembic's version (the shared database's chain is another branch's business), the
branch's reads are timed and compared with the baseline's answers row for row, and 0018's downgrade() puts
the database back as it was, whatever happened in between. No migrate() call.
Run: `VAR_DIR=/work/benchvar .venv/bin/python -m bench.customers [--repeats 20]`
"""

import argparse
import importlib
import statistics
import subprocess
import time
import types
from datetime import timedelta
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text

import embedded
import settings
from bench.reporting import PGDATA, RANGES, TODAY, database_name, reader_id
from dashboard import queries, selection
from database import make_engine, scheduler_sessionmaker, session_scope, set_app_user, web_sessionmaker

MIGRATION = importlib.import_module("migrations.versions.0018_customer_reads")
ROOT = Path(__file__).resolve().parent.parent


def baseline_queries(ref: str) -> types.ModuleType:
    """dashboard/queries.py as it is at git `ref`, loaded as a module of its own."""
    source = subprocess.run(["git", "show", f"{ref}:dashboard/queries.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"baseline_queries_{ref}")
    exec(compile(source, f"{ref}:dashboard/queries.py", "exec"), module.__dict__)  # noqa: S102 - our own file
    return module


def reads(module: types.ModuleType, shop_id: int) -> list[tuple[str, str, int, object]]:
    """(read, scope, days, call) for every read timed: call(session) runs it once and returns its answer."""
    out = []
    for scope, shop in (("one store", shop_id), ("all stores", None)):
        for days in RANGES:
            start = TODAY - timedelta(days=days - 1)
            periods = {"current": (start, TODAY),
                       "previous": selection.comparison_range(start, TODAY, "previous_period")}
            out.append(("top-customers", scope, days, lambda s, m=module, a=shop, b=start: m.read_report(
                session=s, report="top-customers", shop_id=a, start=b, end=TODAY)))
            out.append(("repeat rates", scope, days, lambda s, m=module, a=shop, p=periods: m.read_repeat_rates(
                session=s, shop_id=a, periods=p)))
    return out


def timed(session, call, repeats: int) -> tuple[float, float, object]:
    """p50 and p95 in ms of `repeats` calls (after one to warm up), and the answer."""
    answer, times = call(session), []
    for _ in range(repeats):
        started = time.perf_counter()
        call(session)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, -(-len(times) * 95 // 100) - 1)], answer


def measure(url: str, module: types.ModuleType, role: str, repeats: int) -> dict[tuple, tuple]:
    """{(read, scope, days): (p50, p95, answer)} as the scheduler or as the web role for a member of every store."""
    if role == "web":
        user_id, sessions = reader_id(url), web_sessionmaker(embedded.with_user(url, settings.WEB_ROLE))
    else:
        user_id, sessions = None, scheduler_sessionmaker(url)
    out = {}
    with session_scope(sessions) as session:
        if user_id is not None:
            set_app_user(session, user_id)
        shop_id = session.execute(text("SELECT min(id) FROM app_dashboard.shops")).scalar_one()
        for name, scope, days, call in reads(module, shop_id):
            out[(name, scope, days)] = timed(session, call, repeats)
    sessions.kw["bind"].dispose()
    return out


def migrate_unstamped(url: str, step: str) -> tuple[float, float]:
    """0018's upgrade() or downgrade() in one transaction, alembic's version table untouched: the seconds spent
    waiting for the customer table (other sessions reading it) and the seconds the migration took."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
            started = time.perf_counter()
            connection.exec_driver_sql(MIGRATION.LOCK_VIEW)
            connection.exec_driver_sql("LOCK TABLE reporting.customer_facts IN ACCESS EXCLUSIVE MODE")
            locked = time.perf_counter()
            getattr(MIGRATION, step)()
            return locked - started, time.perf_counter() - locked
    finally:
        engine.dispose()


def check_untouched(url: str) -> str:
    """The bench database's alembic version, refusing one that already has 0018's column."""
    engine = make_engine(url)
    with engine.begin() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
        applied = connection.exec_driver_sql(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'reporting' "
            "AND table_name = 'customer_facts' AND column_name = 'net_cents'").scalar_one()
    engine.dispose()
    if applied:
        raise SystemExit("reporting.customer_facts already has net_cents: 0018 is applied, nothing to compare")
    return version


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--baseline-ref", default="main")
    parser.add_argument("--roles", default="scheduler,web")
    args = parser.parse_args()
    server = embedded.start(settings.VAR_DIR / PGDATA, database="postgres")
    url = embedded.with_database(server, database_name(50, 40_000, 5))
    version = check_untouched(url)
    baseline, roles = baseline_queries(args.baseline_ref), args.roles.split(",")
    print(f"bench database at alembic {version}; load average {load()}")
    before = {role: measure(url, baseline, role, args.repeats) for role in roles}
    print(f"baseline ({args.baseline_ref}) measured; load average {load()}")
    after, differ = {}, []
    print("0018 upgrade (unstamped): waited {:.1f} s for the table, took {:.1f} s".format(
        *migrate_unstamped(url, "upgrade")))  # one transaction: if it fails, nothing is left to undo
    try:
        after = {role: measure(url, queries, role, args.repeats) for role in roles}
        print(f"branch measured; load average {load()}")
    finally:
        print("0018 downgrade: waited {:.1f} s for the table, took {:.1f} s".format(
            *migrate_unstamped(url, "downgrade")))
    print("\n| read | role | scope | days | baseline p50 / p95 ms | 0018 p50 / p95 ms | same answer |")
    print("|---|---|---|---|---|---|---|")
    for role in roles:
        for key, (p50, p95, answer) in after[role].items():
            b50, b95, expected = before[role][key]
            same = answer == expected
            differ += [] if same else [(role, key)]
            print(f"| {key[0]} | {role} | {key[1]} | {key[2]} | {b50:.1f} / {b95:.1f} | {p50:.1f} / {p95:.1f} | "
                  f"{'yes' if same else 'NO'} |")
    print(f"\nload average at the end {load()}")
    if differ:
        raise SystemExit(f"answers differ from the baseline's: {differ}")


if __name__ == "__main__":
    main()

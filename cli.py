"""Ops commands on the Flask CLI: `flask --app app users|shops|meta|jobs ...`, `tokens rotate`, `scheduler status`."""

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select, text

import embedded
import settings
from dashboard import accounts, admin
from database import scheduler_sessionmaker, session_scope
from ingest import crypto, jobs
from ingest.meta import connect as meta_connect
from models import LIVE_JOB_STATUSES, AdAccount, Shop, ShopCredential, SyncJob

users = AppGroup("users", help="Create users and grant them stores.")
tokens = AppGroup("tokens", help="Stored API tokens.")
meta = AppGroup("meta", help="Meta ad accounts.")
shops = AppGroup("shops", help="Connect Shopify stores and list them.")
jobs_group = AppGroup("jobs", help="List and cancel sync jobs.")
scheduler = AppGroup("scheduler", help="The scheduler processes' health.")


def _session():
    # Ops commands act as the scheduler role (the writer), not as a web user.
    return session_scope(scheduler_sessionmaker(current_app.config["DATABASE_URL"] or embedded.default_url()))


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(["admin", "member"]), default="member", show_default=True)
@click.option("--name", default="")
def create_user(email, password, role, name):
    """Create a user."""
    with _session() as session:
        try:
            user = accounts.create_user(session=session, email=email, password=password, role=role, name=name)
        except ValueError as error:
            raise click.ClickException(str(error)) from None  # one line, exit status 1
        click.echo(f"created {role} {user.email} (id {user.id})")


@users.command("set-password")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def set_password(email, password):
    """Set a user's password, sign them out everywhere and forget their failed logins."""
    with _session() as session:
        user = accounts.get_user_by_email(session=session, email=email)
        if user is None:
            raise click.BadParameter(f"no user {email}")
        try:
            accounts.set_password(session=session, user_id=user.id, password=password)
        except ValueError as error:  # the rules of a new user's password
            raise click.ClickException(str(error)) from None
        click.echo(f"password set for {user.email}; their sessions are ended")


@users.command("grant")
@click.option("--email", required=True)
@click.option("--shop", "domains", multiple=True, help="A shop domain; repeat for several.")
@click.option("--all-shops", is_flag=True, help="Every connected shop.")
def grant(email, domains, all_shops):
    """Let a user see stores."""
    with _session() as session:
        user = accounts.get_user_by_email(session=session, email=email)
        if user is None:
            raise click.BadParameter(f"no user {email}")
        if all_shops:
            accounts.grant_all_shops(session=session, user_id=user.id)
        else:
            found = dict(session.execute(select(Shop.shop_domain, Shop.id).where(Shop.shop_domain.in_(domains))).all())
            missing = set(domains) - set(found)
            if missing:
                raise click.BadParameter(f"unknown shop(s): {', '.join(sorted(missing))}")
            accounts.grant_shops(session=session, user_id=user.id, shop_ids=list(found.values()))
        click.echo(f"granted {'all shops' if all_shops else ', '.join(domains)} to {user.email}")


@users.command("list")
def list_users():
    """List users."""
    with _session() as session:
        for user in accounts.list_users(session=session):
            click.echo(f"{user.id}\t{user.email}\t{user.role}\t{'active' if user.is_active else 'inactive'}")


@tokens.command("rotate")
def rotate():
    """Re-encrypt every stored secret under the first key of TOKEN_ENCRYPTION_KEYS."""
    count = 0
    with _session() as session:
        for credential in session.scalars(select(ShopCredential)):
            for field in ("access_token_enc", "refresh_token_enc", "client_secret_enc", "webhook_secret_enc"):
                if getattr(credential, field):
                    setattr(credential, field, crypto.rotate(getattr(credential, field)))
                    count += 1
        for account in session.scalars(select(AdAccount).where(AdAccount.access_token_enc.is_not(None))):
            account.access_token_enc = crypto.rotate(account.access_token_enc)
            count += 1
    click.echo(f"re-encrypted {count} secret(s); the old key can now be dropped from TOKEN_ENCRYPTION_KEYS")


def _shop_id(session, domain: str) -> int:
    shop_id = session.scalar(select(Shop.id).where(Shop.shop_domain == domain))
    if shop_id is None:
        raise click.BadParameter(f"no shop {domain}")
    return shop_id


@meta.command("connect")
@click.option("--shop", "domain", required=True, help="The shop's domain.")
@click.option("--account", "account_ids", multiple=True, required=True, help="act_<id>; repeat for several.")
@click.option("--token", prompt=True, hide_input=True, envvar="META_ACCESS_TOKEN",
              help="A system-user or long-lived token with ads_read (or META_ACCESS_TOKEN).")
def connect_meta(domain, account_ids, token):
    """Validate a Meta token and ad accounts, link them to a shop, and queue their backfill."""
    try:  # validate every account before saving any
        found = [meta_connect.validate_account(token, account_id) for account_id in account_ids]
    except meta_connect.ConnectError as error:
        raise click.ClickException(str(error)) from error
    with _session() as session:
        shop_id = _shop_id(session, domain)
        for info in found:
            _, job_id = meta_connect.link_account(session=session, shop_id=shop_id, token=token, info=info)
            click.echo(f"linked {info.account_id} ({info.name}, {info.currency}, {info.iana_timezone}, status "
                       f"{info.account_status}) to {domain}; backfill job {job_id} queued")


@meta.command("sync")
@click.option("--shop", "domain", required=True, help="The shop's domain.")
@click.option("--account", "account_id", required=True, help="act_<id>")
def sync_meta(domain, account_id):
    """Queue an INCREMENTAL sync (today and the trailing 28 days) for a linked ad account now."""
    with _session() as session:
        job_id, created = jobs.enqueue(session=session, shop_id=_shop_id(session, domain), source="meta",
                                       kind="INCREMENTAL", target=meta_connect.normalize(account_id))
    click.echo(f"job {job_id} {'queued' if created else 'already queued'}")


@shops.command("connect")
@click.argument("domain")
@click.option("--token", help="A custom app's Admin API access token (shpat_...).")
@click.option("--client-id", help="A Dev Dashboard app's client ID (client credentials grant).")
@click.option("--client-secret", help="That app's client secret.")
@click.option("--webhook-secret", help="The secret Shopify signs webhooks with, for a custom app's token.")
def connect_shop(domain, token, client_id, client_secret, webhook_secret):
    """Connect a store (or reconnect it) and queue its first syncs."""
    from ingest.shopify.connect import ConnectError, connect_store

    if bool(token) == bool(client_id or client_secret):
        raise click.UsageError("Give either --token, or --client-id and --client-secret.")
    with _session() as session:
        try:
            shop = connect_store(session=session, domain=domain, access_token=token, client_id=client_id,
                                 client_secret=client_secret, webhook_secret=webhook_secret)
        except ConnectError as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"connected {shop.shop_domain} ({shop.name}, {shop.currency}, {shop.iana_timezone}); "
                   "its first syncs are queued")


@shops.command("list")
def list_shops():
    """List connected stores with their credential kind."""
    with _session() as session:
        rows = session.execute(select(Shop, ShopCredential.kind).outerjoin(ShopCredential).order_by(Shop.shop_domain))
        for shop, kind in rows:
            click.echo(f"{shop.id}\t{shop.shop_domain}\t{shop.name}\t{shop.status}\t{kind or 'no credential'}")


@jobs_group.command("list")
@click.option("--all", "everything", is_flag=True, help="The latest 50 jobs, finished ones too.")
def list_jobs(everything):
    """List live (queued and running) sync jobs, most recent first."""
    with _session() as session:
        query = select(SyncJob, Shop.shop_domain).join(Shop, Shop.id == SyncJob.shop_id).order_by(SyncJob.id.desc())
        query = query.limit(50) if everything else query.where(SyncJob.status.in_(LIVE_JOB_STATUSES))
        for job, domain in session.execute(query):
            progress = f"{job.progress_done}/{job.progress_total or '?'}"
            click.echo(f"{job.id}\t{domain}\t{job.source}\t{job.kind}\t{job.target}\t{job.status}\t{progress}\t"
                       f"{job.lease_owner or ''}\t{job.error_message or ''}")


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
def cancel_job(job_id):
    """Cancel a job: a queued one at once, a running one at its next checkpoint (audited)."""
    with _session() as session:
        try:
            click.echo(admin.cancel_job(session=session, by=None, job_id=job_id))
        except admin.AdminError as error:
            raise click.ClickException(str(error)) from error


@scheduler.command("status")
def scheduler_status():
    """List scheduler instances with their heartbeat age; exit 1 when none is fresh (for ops' checks)."""
    from dashboard import queries

    with _session() as session:
        rows = queries.list_schedulers(session=session)
        waiting = session.scalar(text("SELECT count(*) FROM app_dashboard.sync_jobs "
                                      "WHERE status = 'queued' AND run_after <= now()"))
    for row in rows:
        state = ("stopping" if row.stopping else "running") if row.fresh else "stale"
        click.echo(f"{row.instance_id}\t{row.hostname}\tpid {row.pid}\t{state}\tlast heartbeat "
                   f"{float(row.age_seconds):.0f} s ago\t{row.jobs_running} job(s) running")
    fresh = sum(1 for row in rows if row.fresh)
    click.echo(f"{fresh} scheduler(s) running, {waiting} job(s) due and waiting")
    if not fresh:
        raise click.ClickException(
            f"no scheduler heartbeat in the last {settings.SCHEDULER_STALE_SECONDS:g} s: start `python scheduler.py`")


def init_app(server: Flask) -> None:
    """Register the command groups on the Flask CLI."""
    server.cli.add_command(users)
    server.cli.add_command(shops)
    server.cli.add_command(tokens)
    server.cli.add_command(meta)
    server.cli.add_command(jobs_group)
    server.cli.add_command(scheduler)

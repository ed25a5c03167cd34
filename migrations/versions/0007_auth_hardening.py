"""Login throttling per account and address, and revocable sessions.

Revision ID: 0007
Revises: 0006

- app_dashboard.login_attempts: failed logins counted per (e-mail as typed, client address) before the password
  is checked, whether or not the account exists, so the count cannot be raced and tells nothing about which
  e-mails have accounts. A stranger's failures from his address never slow the owner down from hers; an
  e-mail failing from many addresses is refused to all but those it has logged in from (succeeded_at).
- users.session_version: part of every session and remember-me cookie; bumping it ends them all (logout,
  password change, an admin's "sign out everywhere").
- users.failed_logins and locked_until go: the hard lock they kept let anyone lock an account's owner out.
"""

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = f"""
CREATE TABLE app_dashboard.login_attempts (
    email      text NOT NULL,
    address    text NOT NULL,
    failures   integer NOT NULL,
    retry_at   timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    succeeded_at timestamptz,
    PRIMARY KEY (email, address)
);
CREATE INDEX login_attempts_updated_idx ON app_dashboard.login_attempts (updated_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON app_dashboard.login_attempts TO {WEB_ROLE};
GRANT ALL ON app_dashboard.login_attempts TO {SCHEDULER_ROLE};

ALTER TABLE app_dashboard.users ADD COLUMN session_version integer NOT NULL DEFAULT 1;
ALTER TABLE app_dashboard.users DROP COLUMN failed_logins, DROP COLUMN locked_until;
GRANT SELECT (session_version), UPDATE (session_version) ON app_dashboard.users TO {WEB_ROLE};
"""

DOWNGRADE = f"""
REVOKE SELECT (session_version), UPDATE (session_version) ON app_dashboard.users FROM {WEB_ROLE};
ALTER TABLE app_dashboard.users DROP COLUMN session_version;
ALTER TABLE app_dashboard.users ADD COLUMN failed_logins integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until timestamptz;
GRANT SELECT (failed_logins, locked_until), UPDATE (failed_logins, locked_until) ON app_dashboard.users TO {WEB_ROLE};
DROP TABLE app_dashboard.login_attempts;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

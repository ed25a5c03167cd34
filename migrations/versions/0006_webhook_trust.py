"""Trust: webhook signatures and passwords checked inside PostgreSQL, so the web role never reads a secret;
when a store was disconnected, for shop/redact's 48 hours.

Revision ID: 0006
Revises: 0005

Shopify signs webhooks with the app's client secret, and anyone holding it can mint Admin API tokens. The web
must verify signatures, not hold secrets: the scheduler stores each shop's signing key in
app_dashboard.webhook_keys, which no role but the owner reads, and the web asks
`app_dashboard.verify_webhook(domain, body, hmac)` for a yes or no. The embedded PostgreSQL ships no pgcrypto,
so HMAC-SHA256 (RFC 2104) is written in SQL over the built-in sha256().

Password hashes likewise: the web role reads every column of app_dashboard.users but password_hash; a login
asks `login_parameters(email)` for the argon2 parameters and salt (not secret), hashes the password in Python
and asks `check_password(email, hash)` whether it matches.
"""

import logging

from alembic import op
from sqlalchemy import text

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

DISCONNECTED_AT = """
ALTER TABLE app_dashboard.shops ADD COLUMN disconnected_at timestamptz;
UPDATE app_dashboard.shops SET disconnected_at = updated_at WHERE status = 'disconnected';

-- Every path that disconnects a store (an uninstall, an admin) stamps the moment; reconnecting clears it.
CREATE FUNCTION app_dashboard.stamp_disconnected_at() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.status = 'disconnected' AND OLD.status IS DISTINCT FROM 'disconnected' THEN
            NEW.disconnected_at := now();
        ELSIF NEW.status <> 'disconnected' THEN
            NEW.disconnected_at := NULL;
        END IF;
        RETURN NEW;
    END $$;
CREATE TRIGGER shops_disconnected_at BEFORE UPDATE OF status ON app_dashboard.shops
    FOR EACH ROW EXECUTE FUNCTION app_dashboard.stamp_disconnected_at();
"""

WEBHOOK_KEYS = f"""
-- A shop's webhook signing key (Shopify's client secret, or the shop's own webhook secret), in clear because
-- PostgreSQL computes the HMAC with it. No grant to the web; the scheduler writes it when a store connects,
-- and it goes with the credential (an admin's disconnect deletes both).
CREATE TABLE app_dashboard.webhook_keys (
    shop_id    bigint PRIMARY KEY REFERENCES app_dashboard.shop_credentials (shop_id) ON DELETE CASCADE,
    key        bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE app_dashboard.webhook_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY scheduler_all ON app_dashboard.webhook_keys TO {SCHEDULER_ROLE} USING (true) WITH CHECK (true);
REVOKE ALL ON app_dashboard.webhook_keys FROM {WEB_ROLE};

-- HMAC-SHA256 (RFC 2104): sha256((K xor opad) || sha256((K xor ipad) || message)), K padded to 64 bytes.
CREATE FUNCTION app_dashboard.hmac_sha256(key bytea, message bytea) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog AS $$
    DECLARE
        block bytea := CASE WHEN length(key) > 64 THEN sha256(key) ELSE key END;
        inner_pad bytea;
        outer_pad bytea;
    BEGIN
        block := block || decode(repeat('00', 64 - length(block)), 'hex');
        inner_pad := block;
        outer_pad := block;
        FOR i IN 0..63 LOOP
            inner_pad := set_byte(inner_pad, i, get_byte(block, i) # 54);  -- 0x36
            outer_pad := set_byte(outer_pad, i, get_byte(block, i) # 92);  -- 0x5c
        END LOOP;
        RETURN sha256(outer_pad || sha256(inner_pad || message));
    END $$;

-- Whether `signature` (base64, Shopify's X-Shopify-Hmac-Sha256) signs `body` with the key of the shop at
-- `domain`. Hashing both sides before comparing keeps the comparison's timing independent of the key.
CREATE FUNCTION app_dashboard.verify_webhook(domain text, body bytea, signature text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    DECLARE
        given bytea;
    BEGIN
        IF signature IS NULL OR signature !~ '^[A-Za-z0-9+/]{{43}}=$' THEN  -- 32 bytes in base64, or no answer
            RETURN false;
        END IF;
        given := sha256(decode(signature, 'base64'));
        RETURN coalesce((SELECT bool_or(sha256(app_dashboard.hmac_sha256(k.key, body)) = given)
                         FROM app_dashboard.webhook_keys k JOIN app_dashboard.shops s ON s.id = k.shop_id
                         WHERE s.shop_domain = verify_webhook.domain), false);
    END $$;
REVOKE ALL ON FUNCTION app_dashboard.hmac_sha256(bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_dashboard.verify_webhook(text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_dashboard.hmac_sha256(bytea, bytea) TO {SCHEDULER_ROLE};
GRANT EXECUTE ON FUNCTION app_dashboard.verify_webhook(text, bytea, text) TO {WEB_ROLE}, {SCHEDULER_ROLE};

DROP FUNCTION app_dashboard.webhook_secrets(text);
"""

USER_COLUMNS = "id, email, name, role, is_active, failed_logins, locked_until, last_login_at, created_at"

PASSWORDS = f"""
REVOKE SELECT ON app_dashboard.users FROM {WEB_ROLE};
GRANT SELECT ({USER_COLUMNS}) ON app_dashboard.users TO {WEB_ROLE};

-- The argon2 settings of one account's hash without its digest: `$argon2id$v=19$m=..,t=..,p=..$<salt>`
-- and the digest's length in bytes. A salt is not a secret; without the digest nothing can be cracked.
CREATE FUNCTION app_dashboard.login_parameters(email text, OUT settings text, OUT hash_len integer)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
        SELECT left(u.password_hash, length(u.password_hash) - length(split_part(u.password_hash, '$', 6)) - 1),
               length(decode(rpad(split_part(u.password_hash, '$', 6),
                                  (length(split_part(u.password_hash, '$', 6)) + 3) / 4 * 4, '='), 'base64'))
        FROM app_dashboard.users u WHERE lower(u.email) = lower(trim(login_parameters.email))
    $$;

-- The user's id when `password_hash` (computed by the caller with login_parameters) is the stored one.
CREATE FUNCTION app_dashboard.check_password(email text, password_hash text) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
        SELECT u.id FROM app_dashboard.users u
        WHERE lower(u.email) = lower(trim(check_password.email))
          AND sha256(convert_to(u.password_hash, 'UTF8')) = sha256(convert_to(check_password.password_hash, 'UTF8'))
    $$;
REVOKE ALL ON FUNCTION app_dashboard.login_parameters(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_dashboard.check_password(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_dashboard.login_parameters(text) TO {WEB_ROLE}, {SCHEDULER_ROLE};
GRANT EXECUTE ON FUNCTION app_dashboard.check_password(text, text) TO {WEB_ROLE}, {SCHEDULER_ROLE};
"""


def upgrade() -> None:
    op.execute(DISCONNECTED_AT)
    op.execute(WEBHOOK_KEYS)
    op.execute(PASSWORDS)
    backfill_webhook_keys()


def backfill_webhook_keys() -> None:
    """Existing stores' keys, decrypted with TOKEN_ENCRYPTION_KEYS (a store without one is logged)."""
    from ingest import crypto
    from ingest.shopify import signing

    bind = op.get_bind()
    rows = bind.execute(text("SELECT shop_id, coalesce(webhook_secret_enc, client_secret_enc) FROM "
                             "app_dashboard.shop_credentials WHERE coalesce(webhook_secret_enc, client_secret_enc) "
                             "IS NOT NULL")).all()
    for shop_id, token in rows:
        try:
            secret = crypto.decrypt(token)
        except Exception:  # no keyring here, or another one: that store's webhooks 401 until it reconnects
            log.warning("shop %s: its webhook key could not be decrypted; reconnect it", shop_id)
            continue
        bind.execute(text(signing.SAVE_KEY), {"s": shop_id, "k": secret.encode()})


def downgrade() -> None:
    op.execute(f"""
        DROP FUNCTION app_dashboard.check_password(text, text);
        DROP FUNCTION app_dashboard.login_parameters(text);
        GRANT SELECT ON app_dashboard.users TO {WEB_ROLE};
        DROP FUNCTION app_dashboard.verify_webhook(text, bytea, text);
        DROP FUNCTION app_dashboard.hmac_sha256(bytea, bytea);
        DROP TABLE app_dashboard.webhook_keys;
        CREATE FUNCTION app_dashboard.webhook_secrets(domain text) RETURNS SETOF text
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
                SELECT coalesce(c.webhook_secret_enc, c.client_secret_enc)
                FROM app_dashboard.shop_credentials c JOIN app_dashboard.shops s ON s.id = c.shop_id
                WHERE s.shop_domain = domain AND coalesce(c.webhook_secret_enc, c.client_secret_enc) IS NOT NULL
            $$;
        REVOKE ALL ON FUNCTION app_dashboard.webhook_secrets(text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION app_dashboard.webhook_secrets(text) TO {WEB_ROLE}, {SCHEDULER_ROLE};
        DROP TRIGGER shops_disconnected_at ON app_dashboard.shops;
        DROP FUNCTION app_dashboard.stamp_disconnected_at();
        ALTER TABLE app_dashboard.shops DROP COLUMN disconnected_at;
    """)

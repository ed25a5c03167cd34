"""Row-level security, one mechanism for every tenant table: the migrations call these."""

WEB_ROLE = "dashboard_web"
SCHEDULER_ROLE = "dashboard_scheduler"


def tenant_table(table: str, *, column: str = "shop_id", web_can_read: bool = True) -> str:
    """SQL that puts `table` under RLS: the scheduler sees all, the web only the user's shops."""
    statements = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY scheduler_all ON {table} TO {SCHEDULER_ROLE} USING (true) WITH CHECK (true)",
    ]
    if web_can_read:
        statements.append(
            f"CREATE POLICY web_read ON {table} FOR SELECT TO {WEB_ROLE} "
            f"USING ({column} IN (SELECT app_dashboard.visible_shop_ids()))"
        )
    return ";\n".join(statements) + ";"

from tests.shopify_sandbox import sandbox  # noqa: F401

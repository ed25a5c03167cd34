"""Meta's Graph API error object, as the sandbox raises and renders it."""

from __future__ import annotations


class MetaError(Exception):
    """An error Meta answers with: HTTP status, code, message, type, optional subcode and extra keys."""

    def __init__(self, status: int, code: int, message: str, *, type_: str = "OAuthException",
                 subcode: int | None = None, transient: bool = False, **extra: object):
        super().__init__(message)
        self.status, self.code, self.message, self.type = status, code, message, type_
        self.subcode, self.transient, self.extra = subcode, transient, extra

    def body(self, trace_id: str) -> dict:
        """The JSON Meta sends: {"error": {message, type, code, error_subcode?, ..., fbtrace_id}}."""
        err: dict = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        err.update(self.extra)
        err["is_transient"] = self.transient
        err["fbtrace_id"] = trace_id
        return {"error": err}


def param_error(message: str) -> MetaError:
    """Meta's invalid-parameter error (#100)."""
    return MetaError(400, 100, f"(#100) {message}")


def not_valid(value: str, param: str) -> MetaError:
    """Meta's refusal of a name a list parameter does not know: "(#100) x is not valid for fields param"."""
    if param != "fields":
        return param_error(f"{value} is not valid for {param} param.")
    return param_error(f"{value} is not valid for fields param. please check https://developers.facebook.com/docs/"
                       "marketing-api/reference/ads-insights/ for all valid values")


def no_object(node: str) -> MetaError:
    """Meta's answer for an id that does not exist or that the token may not see."""
    return MetaError(400, 100, f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due "
                     "to missing permissions, or does not support this operation. Please read the Graph API "
                     "documentation at https://developers.facebook.com/docs/graph-api",
                     type_="GraphMethodException", subcode=33)


def unknown_path(path: str) -> MetaError:
    """Meta's answer for a path it has no route for (an unknown edge, too many components)."""
    return MetaError(400, 2500, f"Unknown path components: {path}")

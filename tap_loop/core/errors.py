"""The tap's exceptions. Their messages are already redacted and say what to do."""

from __future__ import annotations

from tap_loop.core.redaction import redact

ADVICE = {
    400: "check the request settings (dates, timezone, filters) against Loop's message",
    401: "check 'api_token': it is wrong, expired or revoked; create a new token in "
    "Loop's web settings (API keys tab)",
    403: "check 'impersonate_user' and the token's permissions in Loop",
    404: "the export does not exist (any more)",
    429: "Loop is rate limiting; lower 'max_concurrent_exports' or raise 'max_retry_wait_seconds'",
    451: "the Loop account must be verified before its data can be exported",
}


class LoopTapError(Exception):
    """Base class: an error the tap reports with a clear, redacted message."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class LoopApiError(LoopTapError):
    """Loop answered an API call with an error status that retrying will not fix."""

    def __init__(self, call: str, status: int, message: str | None, code: str | None = None):
        self.call, self.status, self.api_message, self.code = call, status, message, code
        detail = f": {message}" if message else ""
        if code:
            detail += f" (code {code})"
        advice = ADVICE.get(status, "see Loop's message")
        super().__init__(f"Loop API {call} answered HTTP {status}{detail}. What to do: {advice}.")


class RangeTooLarge(LoopApiError):
    """Loop refused the window as too large (a 400 that says so): split the window."""


class ExportNotFound(LoopApiError):
    """The export id is unknown to Loop (404, or 400 on the status call)."""


class RetriesExhausted(LoopTapError):
    """A call kept failing with retryable errors past its bound."""


class Cancelled(LoopTapError):
    """The sync is stopping; background work ends early."""


class ExportFailed(LoopTapError):
    """An export window could not be produced (Failed, timed out) after its attempts."""

    def __init__(self, message: str, *, splittable: bool = True) -> None:
        super().__init__(message)
        self.splittable = splittable


class DownloadError(LoopTapError):
    """The result file could not be downloaded whole or was not valid."""


class DownloadTooSlow(DownloadError):
    """A whole download took longer than ``download_timeout_seconds``."""


class UrlExpired(DownloadError):
    """The pre-signed URL is no longer valid (expired or rejected): poll for a new one."""


class UnusableUrl(DownloadError):
    """A result URL (or a redirect from it) the tap will not fetch: not http(s), no
    valid host, not a string, or redirecting in a loop. Fetching it again cannot help."""
